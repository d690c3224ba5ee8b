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
 */
import type { ByteSink } from '../devices/byte-sink';
import type { GuestMemory } from '../memory/guest-memory';
import type { VirtioBackend } from './mmio-transport';
import { ChainReader, type Virtqueue } from './virtqueue';

export const VIRTIO_ID_CONSOLE = 3;
export const CONSOLE_QUEUE_SIZE = 64;
export const CONSOLE_RECEIVE_QUEUE = 0;
export const CONSOLE_TRANSMIT_QUEUE = 1;
/** struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr; zero without the features that give them meaning. */
const CONFIG_BYTES = 12;

export class VirtioConsole implements VirtioBackend {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = 0n;
  readonly queueMaxSizes = [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE];
  readonly config = new Uint8Array(CONFIG_BYTES);
  bytesWritten = 0;

  constructor(private readonly memory: GuestMemory, private readonly output: ByteSink) {}

  process(queue: Virtqueue): boolean {
    if (queue.index !== CONSOLE_TRANSMIT_QUEUE) return false;
    let used = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      for (const view of new ChainReader(this.memory, chain.readable).rest()) {
        for (const byte of view) this.output(byte);
        this.bytesWritten += view.length;
      }
      queue.push(chain.head, 0);
      used = true;
    }
    return used;
  }
}
