/**
 * virtio-rng (virtio 1.x, 5.4): one request queue whose writable buffers we
 * fill from the host's CSPRNG (crypto.randomFillSync). Each request gets at
 * most RNG_MAX_REQUEST bytes (the device may return fewer than asked).
 */
import { randomFillSync } from 'node:crypto';
import type { GuestMemory } from '../memory/guest-memory';
import { feature, VIRTIO_F_INDIRECT_DESC, type VirtioBackend } from './mmio-transport';
import { splitWritable, type Virtqueue } from './virtqueue';

export const VIRTIO_ID_RNG = 4;
export const RNG_QUEUE_SIZE = 64;
export const RNG_MAX_REQUEST = 64 * 1024;

export class VirtioRng implements VirtioBackend {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = feature(VIRTIO_F_INDIRECT_DESC);
  readonly queueMaxSizes = [RNG_QUEUE_SIZE];
  readonly config = new Uint8Array(0);
  bytesServed = 0;

  constructor(private readonly memory: GuestMemory) {}

  process(queue: Virtqueue): boolean {
    let used = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const n = Math.min(chain.writableBytes, RNG_MAX_REQUEST);
      for (const view of splitWritable(this.memory, chain.writable, n).data) randomFillSync(view);
      this.bytesServed += n;
      queue.push(chain.head, n);
      used = true;
    }
    return used;
  }
}
