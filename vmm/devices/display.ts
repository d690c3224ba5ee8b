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
  /** VRAM_BYTES from `vramOffset` (page-aligned, as KVM needs it) are the framebuffer. */
  vram: SharedArrayBuffer;
  vramOffset: number;
}

const PAGE = 4096;

/** Fresh buffers; `align` gives the page-aligned offset inside the VRAM buffer (native pageAlignedOffset; 0 in tests). */
export function createDisplayBuffers(align: (b: SharedArrayBuffer) => number = () => 0): DisplayBuffers {
  const vram = new SharedArrayBuffer(VRAM_BYTES + PAGE);
  return { state: new SharedArrayBuffer(VGA_STATE_BYTES + DISPI_STATE_BYTES), vram, vramOffset: align(vram) };
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
