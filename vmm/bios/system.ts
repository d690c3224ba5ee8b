/**
 * INT 11h (equipment), INT 12h (base memory) and INT 15h: the E820 memory
 * map (the same map every other boot protocol reports, memory-map.ts),
 * E801h and 88h memory sizes, the A20 functions, and 86h (wait), which
 * returns at once. The A20 line is always on here (KVM has no A20 gate):
 * disabling it is refused rather than pretended.
 */
import { pcMemoryMap, type MemoryMapEntry } from '../memory/memory-map';
import { type BiosContext, canWrite, linear } from './guest-access';
import { BDA_ADDR, BDA_EQUIPMENT, BDA_MEMORY_KIB } from './layout';
import { ah, type BiosRegs, fail, FLAG_CF, lo16, ok, setAl, setFlag, setLo16 } from './regs';

const SMAP = 0x534d4150;
const E820_ENTRY_BYTES = 20;
const UNSUPPORTED = 0x86;
const MIB = 1024 * 1024;

export class SystemBios {
  private readonly map: MemoryMapEntry[];

  constructor(private readonly ctx: BiosContext) {
    this.map = pcMemoryMap(ctx.memory);
  }

  equipment(r: BiosRegs): void { setLo16(r, 'eax', this.ctx.memory.readU16(BDA_ADDR + BDA_EQUIPMENT)); }

  baseMemory(r: BiosRegs): void { setLo16(r, 'eax', this.ctx.memory.readU16(BDA_ADDR + BDA_MEMORY_KIB)); }

  call(r: BiosRegs): void {
    if (r.eax >>> 0 === 0xe820) return this.e820(r);
    const ax = lo16(r, 'eax');
    switch (ax) {
      case 0x2400: return fail(r, UNSUPPORTED);               // the A20 line cannot be turned off here
      case 0x2401: return ok(r);
      case 0x2402: ok(r); setAl(r, 1); return;                // enabled
      case 0x2403: ok(r); setLo16(r, 'ebx', 0); return;       // no gate to drive: none of the ways is needed
      case 0xe801: return this.e801(r);
      default: break;
    }
    switch (ah(r)) {
      case 0x86: return ok(r);
      case 0x88: ok(r); setLo16(r, 'eax', Math.min(0xffff, this.kibAbove1M())); return;
      default: return fail(r, UNSUPPORTED);
    }
  }

  /** EAX=E820h, EDX='SMAP', EBX = continuation (0 first), ES:DI a buffer of ECX >= 20 bytes. */
  private e820(r: BiosRegs): void {
    const index = r.ebx >>> 0;
    if (r.edx >>> 0 !== SMAP || (r.ecx >>> 0) < E820_ENTRY_BYTES || index >= this.map.length) return fail(r, UNSUPPORTED);
    const at = linear(r.esBase, lo16(r, 'edi'));
    if (!canWrite(this.ctx.memory, at, E820_ENTRY_BYTES)) return fail(r, UNSUPPORTED);
    const e = this.map[index];
    this.ctx.memory.writeU64(at, BigInt(e.addr));
    this.ctx.memory.writeU64(at + 8, BigInt(e.size));
    this.ctx.memory.writeU32(at + 16, e.type);
    r.eax = SMAP;
    r.ecx = E820_ENTRY_BYTES;
    r.ebx = index + 1 < this.map.length ? index + 1 : 0;
    setFlag(r, FLAG_CF, false);
  }

  /** AX = CX = KiB from 1 MiB to 16 MiB, BX = DX = 64 KiB blocks from 16 MiB to the 4 GiB hole. */
  private e801(r: BiosRegs): void {
    const top = this.lowTop();
    const below16 = Math.max(0, Math.min(top, 16 * MIB) - MIB) / 1024;
    const above16 = Math.max(0, top - 16 * MIB) / (64 * 1024);
    ok(r);
    setLo16(r, 'eax', below16); setLo16(r, 'ecx', below16);
    setLo16(r, 'ebx', Math.min(0xffff, Math.floor(above16))); setLo16(r, 'edx', Math.min(0xffff, Math.floor(above16)));
  }

  private lowTop(): number {
    const e = this.map.find((m) => m.type === 1 && m.addr === MIB);
    return e ? e.addr + e.size : MIB;
  }

  private kibAbove1M(): number { return (this.lowTop() - MIB) / 1024; }

  /** The map INT 15h E820h hands out, for messages and tests. */
  get memoryMap(): readonly MemoryMapEntry[] { return this.map; }
}
