/**
 * readMemory, writeMemory and disassemble: guest memory through memory
 * references (memory.ts) and iced-x86 (disassembly.ts). Each method returns
 * the response body or throws the sentence the user should see.
 */
import { basename } from 'node:path';
import { Source } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { MemoryRefError, parseRef } from '../memory';
import { bitnessOf, disassemble, symbolizedText, type Bitness } from '../disassembly';
import { hex, type ClientPaths, type SessionState } from './state';

/** A memory reference error is already a sentence; anything else gets the request's name. */
const named = (request: string, e: unknown): Error =>
  (e instanceof MemoryRefError ? e : new Error(`${request}: ${(e as Error).message}`));

export class MemoryRequests {
  constructor(private readonly state: SessionState, private readonly paths: ClientPaths) {}

  async read(args: DebugProtocol.ReadMemoryArguments): Promise<DebugProtocol.ReadMemoryResponse['body']> {
    try {
      // Fresh system registers: virtual references go through this stop's page tables.
      if (this.state.vcpu?.state === 'stopped') await this.state.vcpu.sregs();
      const r = this.state.view!.readForDap(args.memoryReference, args.offset ?? 0, args.count);
      // A Buffer over the same bytes (no copy) for the base64 encoder.
      const data = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length).toString('base64');
      return { address: r.address, data, unreadableBytes: r.unreadableBytes };
    } catch (e) {
      throw named('readMemory', e);
    }
  }

  /** Writes, then `written()` (the caller invalidates what showed the old bytes); a short write throws unless allowed. */
  async write(args: DebugProtocol.WriteMemoryArguments, written: () => void): Promise<DebugProtocol.WriteMemoryResponse['body']> {
    let r: { written: number; firstFailure?: string };
    let length: number;
    try {
      if (this.state.vcpu?.state === 'stopped') await this.state.vcpu.sregs();
      const ref = parseRef(args.memoryReference);
      const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
      const data = Buffer.from(args.data, 'base64');
      length = data.length;
      r = this.state.view!.write({ space: ref.space, address }, new Uint8Array(data));
    } catch (e) {
      throw named('writeMemory', e);
    }
    written();
    if (r.written < length && (!args.allowPartial || r.written === 0)) {
      throw new Error(`writeMemory: only ${r.written} of ${length} bytes written: ${r.firstFailure}`);
    }
    return { bytesWritten: r.written };
  }

  async disassemble(args: DebugProtocol.DisassembleArguments): Promise<DebugProtocol.DisassembleResponse['body']> {
    const { vcpu, symbols, view } = this.state;
    const sregs = vcpu?.state === 'stopped' ? await vcpu.sregs() : undefined;
    const bitness: Bitness = sregs ? bitnessOf(sregs) : symbols?.bits ?? 64;
    const ref = parseRef(args.memoryReference);
    const address = BigInt.asUintN(64, ref.address + BigInt(args.offset ?? 0));
    const list = disassemble((a, n) => view!.read({ space: ref.space, address: a }, n), bitness, address, args.instructionOffset ?? 0, args.instructionCount, symbols);
    let lastFile: string | undefined;
    return {
      instructions: list.map((i) => {
        const loc = symbols?.lineForAddress(i.address);
        const out: DebugProtocol.DisassembledInstruction = {
          address: hex(i.address),
          instructionBytes: [...i.bytes].map((b) => b.toString(16).padStart(2, '0')).join(' '),
          instruction: i.invalid && i.text === '??' ? '??' : symbolizedText(i, symbols),
          symbol: this.state.symbolName(i.address),
          presentationHint: i.invalid ? 'invalid' : undefined,
        };
        if (loc) {
          // The source is named once per run of instructions from the same file.
          if (loc.file !== lastFile) out.location = new Source(basename(loc.file), this.paths.toClientPath(loc.file));
          lastFile = loc.file;
          out.line = loc.line;
        }
        return out;
      }),
    };
  }
}
