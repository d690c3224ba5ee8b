/**
 * Stack frames for DAP: frame ids that carry their vCPU, each vCPU's frames
 * unwound once a stop (stack.ts does the unwinding and naming), and the
 * stackTrace response body. Scopes and variables find their frame here too.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Source, StackFrame } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Regs } from '../../native/types';
import { bitnessOf } from '../disassembly';
import { describeFrame, unwindFrames } from '../stack';
import { logicalFrames, type LogicalFrame } from '../c-frames';
import type { StackFrame as UnwoundFrame } from '../symbols';
import type { ClientPaths, SessionState } from './state';

/** Stack frame ids carry their vCPU: frame i of vCPU v is v * FRAME_IDS_PER_VCPU + i + 1. */
const FRAME_IDS_PER_VCPU = 1_000_000;

export const frameIdOf = (vcpu: number, index: number): number => vcpu * FRAME_IDS_PER_VCPU + index + 1;

/** The vCPU a frame id belongs to; undefined for ids this adapter never gave out as frames. */
export const vcpuOfFrame = (frameId: number | undefined): number | undefined =>
  (frameId !== undefined && Number.isInteger(frameId) && frameId > 0 ? Math.floor((frameId - 1) / FRAME_IDS_PER_VCPU) : undefined);

/** The index of a frame id in its vCPU's frames (as stackTrace listed them). */
export const indexOfFrame = (frameId: number): number => (frameId - 1) % FRAME_IDS_PER_VCPU;

export class Frames {
  /** Per vCPU: the frames unwound from these registers (stackTrace). */
  private readonly cache = new Map<number, { regs: Regs; frames: UnwoundFrame[]; logical?: LogicalFrame[] }>();

  constructor(private readonly state: SessionState, private readonly paths: ClientPaths) {}

  private readonly existing = new Map<string, boolean>();

  /** Whether a frame's source file is on this machine (asked once a path: a kernel's stacks name the same few files). */
  private sourceExists(path: string): boolean {
    let known = this.existing.get(path);
    if (known === undefined) {
      known = existsSync(path);
      if (this.existing.size > 10_000) this.existing.clear();
      this.existing.set(path, known);
    }
    return known;
  }

  /** The stack may have changed under the frames unwound at this stop (a memory write). */
  forget(): void {
    this.cache.clear();
  }

  async stackTrace(args: DebugProtocol.StackTraceArguments): Promise<DebugProtocol.StackTraceResponse['body']> {
    const vcpu = this.state.vcpuOfThread(args.threadId);
    const { unwound, logical } = await this.logical(vcpu);
    const start = args.startFrame ?? 0;
    const end = Math.min(args.levels ? start + args.levels : logical.length, logical.length);
    const frames = logical.slice(start, end).map((lf) => {
      const f = { ...describeFrame(this.state.symbols, unwound[lf.physical].pc, lf.physical > 0), sp: unwound[lf.physical].sp };
      if (lf.name) f.name = lf.name;
      if (lf.callSite?.line) { f.file = lf.callSite.file ?? f.file; f.line = lf.callSite.line; f.column = lf.callSite.column || 1; }
      return f;
    });
    if (vcpu === this.state.vcpu!.id && start === 0) this.preferBreakpointLine(frames[0]);
    return {
      totalFrames: logical.length,
      stackFrames: frames.map((f, i) => {
        const sf = new StackFrame(frameIdOf(vcpu, start + i), f.name) as DebugProtocol.StackFrame;
        sf.instructionPointerReference = f.instructionPointerReference;
        if (f.file) {
          const file = this.state.sourceMap.mapSource(f.file);
          sf.source = new Source(basename(file), this.paths.toClientPath(file));
          if (!this.sourceExists(file)) {
            // VS Code then offers the disassembly for the frame (it has an instructionPointerReference).
            sf.source.presentationHint = 'deemphasize';
            sf.source.origin = `source not found here: ${file} (map the kernel's build directory to your tree with "sourceFileMap" in launch.json)`;
          }
          sf.line = this.paths.toClientLine(f.line!);
          sf.column = f.column ?? 1;
        } else {
          sf.line = 0;
          sf.column = 0;
          sf.presentationHint = 'subtle';
          sf.name = f.module ?? f.name;
        }
        return sf;
      }),
    };
  }

  /** A vCPU's frames as shown: each machine frame's inlined calls, then its function (c-frames.ts). */
  async logical(vcpu: number): Promise<{ unwound: UnwoundFrame[]; logical: LogicalFrame[] }> {
    const unwound = await this.unwound(vcpu);
    const cached = this.cache.get(vcpu)!;
    cached.logical ??= logicalFrames(unwound, this.state.symbols, this.state.symbols?.debug);
    return { unwound, logical: cached.logical };
  }

  /**
   * A vCPU's frames at this stop, unwound once: VS Code asks for the top frame, then for the
   * rest. Keyed by the registers object, which the vCPU control replaces whenever anything ran.
   */
  async unwound(vcpu: number): Promise<UnwoundFrame[]> {
    const { regs, sregs } = await this.state.snapshot(vcpu);
    const cached = this.cache.get(vcpu);
    if (cached?.regs === regs) return cached.frames;
    const bits = bitnessOf(sregs) === 64 ? 64 : 32;
    // Another vCPU's stack is read through its own page tables (a user process may be running there).
    const read = this.state.view!.reader({ cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer });
    const { unwound } = unwindFrames({ regs, bits, symbols: this.state.symbols, readMemory: (a, n) => read.readExact(a, n) });
    this.cache.set(vcpu, { regs, frames: unwound });
    return unwound;
  }

  /**
   * Optimised code puts several lines at one address (pvh64's compute_checksum:
   * lines 39, 40 and 41 all start at its first instruction), and the line table
   * alone cannot say which one the stop is "on". Stopped by a source breakpoint
   * at that address, the line is the one the user set it on.
   */
  private preferBreakpointLine(top: { file?: string; line?: number; column?: number } | undefined): void {
    const stop = this.state.lastStop;
    if (!top?.file || stop?.reason !== 'breakpoint') return;
    const bp = this.state.breakpoints.all().find((b) => b.kind === 'source' && b.line !== undefined && b.path
      && basename(b.path) === basename(top.file!) && b.addresses.includes(stop.address));
    if (bp && bp.line !== top.line) { top.line = bp.line; top.column = 1; }
  }
}
