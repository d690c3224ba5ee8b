/**
 * virtio-console (virtio 1.x, 5.3), one port and no features: what the
 * guest writes on its transmit queue goes to the same console as the
 * serial port. Its point is the exit count: a whole buffer per queue
 * notification, where a 16550 takes an exit per byte (and some hosts, PVM
 * among them, take one per byte of a `rep outsb` too). The demo kernel
 * writes its screen here (test/guests/demo/virtio-console.c). Linux's
 * virtio_console would find it through ACPI like the other virtio-mmio
 * devices (console=hvc0); our Linux tests leave that driver out.
 *
 * Output only: the receive queue is there, as the spec asks, but typed
 * input stays with the serial port (README "Not yet").
 *
 * One notification could hand us a whole queue of large buffers, all
 * written on the vCPU thread before the guest (or a pause) goes on: a chain
 * gives at most CONSOLE_MAX_CHAIN_BYTES (the rest is a logged guest error),
 * and once the console drops a byte (its reader stalled for a second) the
 * rest of the chain is dropped too, not waited for byte by byte.
 */
import type { ByteSink } from '../devices/byte-sink';
import type { GuestMemory } from '../memory/guest-memory';
import type { DeviceLog } from '../bus/device';
import type { VirtioBackend } from './mmio-transport';
import { ChainReader, type Virtqueue } from './virtqueue';

export const VIRTIO_ID_CONSOLE = 3;
export const CONSOLE_QUEUE_SIZE = 64;
export const CONSOLE_RECEIVE_QUEUE = 0;
export const CONSOLE_TRANSMIT_QUEUE = 1;
export const CONSOLE_MAX_CHAIN_BYTES = 1024 * 1024;
/** struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr; zero without the features that give them meaning. */
const CONFIG_BYTES = 12;

export class VirtioConsole implements VirtioBackend {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = 0n;
  readonly queueMaxSizes = [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE];
  readonly config = new Uint8Array(CONFIG_BYTES);

  constructor(private readonly memory: GuestMemory, private readonly output: ByteSink) {}

  process(queue: Virtqueue, ctx: { log: DeviceLog }): boolean {
    if (queue.index !== CONSOLE_TRANSMIT_QUEUE) return false;
    let used = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (chain.readableBytes > CONSOLE_MAX_CHAIN_BYTES) {
        ctx.log.guestError(`a transmit chain of ${chain.readableBytes} bytes: only its first ${CONSOLE_MAX_CHAIN_BYTES} are written`);
      }
      this.write(new ChainReader(this.memory, chain.readable).rest());
      queue.push(chain.head, 0);
      used = true;
    }
    return used;
  }

  private write(views: Uint8Array[]): void {
    let left = CONSOLE_MAX_CHAIN_BYTES;
    for (const view of views) {
      for (let i = 0; i < view.length && left > 0; i++, left--) {
        if (this.output(view[i]) === false) return;
      }
    }
  }
}
