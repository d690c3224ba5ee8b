/**
 * The machine's screen as memory every thread shares: the VGA and dispi
 * registers (vga-state.ts, bochs-vbe.ts DispiState) and the framebuffer.
 * vCPU 0's devices write the registers and the guest writes the pixels;
 * the main thread (kvmdbg run --screenshot, the debug adapter's Guest
 * Screen) reads all three to render, while the guest runs or not.
 */
import { DISPI_STATE_BYTES, DispiState, VRAM_BYTES } from './bochs-vbe';
import { VGA_STATE_BYTES, VgaState } from './vga-state';

/** What crosses to the vCPU threads (plain shared buffers). */
export interface DisplayBuffers {
  state: SharedArrayBuffer;
  /** VRAM_BYTES from `vramOffset` are the framebuffer (at a page-aligned address, as KVM needs it: RAM's alignment plus whole pages). */
  vram: SharedArrayBuffer;
  vramOffset: number;
}

/**
 * Fresh buffers. The VRAM may live in a buffer the caller has (`vram` with a
 * page-aligned offset): the machine puts it after guest RAM in RAM's buffer,
 * because one allocation that large is always mmap'ed fresh, while a 16 MiB
 * one of its own can come from the C heap (glibc's threshold moves), zeroed
 * page by page: every VM then costs 16 MiB of RSS until the GC frees it.
 */
export function createDisplayBuffers(vram?: { buffer: SharedArrayBuffer; offset: number }): DisplayBuffers {
  const state = new SharedArrayBuffer(VGA_STATE_BYTES + DISPI_STATE_BYTES);
  if (vram) {
    if (vram.offset + VRAM_BYTES > vram.buffer.byteLength) throw new RangeError('the framebuffer does not fit its buffer');
    return { state, vram: vram.buffer, vramOffset: vram.offset };
  }
  return { state, vram: new SharedArrayBuffer(VRAM_BYTES), vramOffset: 0 };
}

export class Display {
  readonly vga: VgaState;
  readonly dispi: DispiState;
  readonly vram: Uint8Array;

  constructor(readonly buffers: DisplayBuffers = createDisplayBuffers()) {
    this.vga = new VgaState(buffers.state, 0);
    this.dispi = new DispiState(buffers.state, VGA_STATE_BYTES);
    this.vram = new Uint8Array(buffers.vram, buffers.vramOffset, VRAM_BYTES);
  }

  /** Bumped by any register write of either device (a frame's registers changed). */
  get generation(): number {
    return (this.vga.generation + this.dispi.generation) | 0;
  }
}
