/**
 * Call frame information from .eh_frame and .debug_frame: CIEs and FDEs
 * (augmentations "z", "R", "P", "L", "S"; pointer encodings incl. pcrel)
 * and the DW_CFA_* program that gives, for a pc, the rule for the CFA and
 * for each saved register. Register numbers are DWARF's (see
 * dwarf-registers.ts). Expression rules are recognised and reported as
 * unsupported; the unwinder then falls back to frame pointers.
 *
 * FDEs are indexed when the sections are parsed; a row is computed on
 * demand. A damaged entry is skipped with a problem sentence; nothing throws
 * out of parseCallFrameInfo or unwindRow.
 */
import { ByteReader, DwarfError, describeError } from './dwarf-reader';

export type CfaRule =
  | { kind: 'register'; register: number; offset: bigint }
  | { kind: 'unsupported'; reason: string };

export type RegisterRule =
  | { kind: 'undefined' }
  | { kind: 'same' }
  /** Saved at memory address CFA + offset. */
  | { kind: 'offset'; offset: bigint }
  /** The value is CFA + offset itself. */
  | { kind: 'val_offset'; offset: bigint }
  /** The value is in another register. */
  | { kind: 'register'; register: number }
  | { kind: 'unsupported'; reason: string };

/** The unwind rules in effect at a pc; `start`/`end` bound the pcs where they hold. */
export interface UnwindRow {
  start: bigint;
  end: bigint;
  functionStart: bigint;
  functionEnd: bigint;
  cfa: CfaRule;
  /** Rules by DWARF register number; a register without a rule is "same value" for callee-saved ones. */
  registers: Map<number, RegisterRule>;
  returnAddressRegister: number;
  /** 'S' augmentation: a signal/interrupt frame (the pc is not a return address). */
  signalFrame: boolean;
  source: '.eh_frame' | '.debug_frame';
}

/** A section's bytes and the address it is loaded at (for pc-relative pointers). */
export interface FrameSection {
  addr: bigint;
  data: Uint8Array;
}

export interface CfiInput {
  ehFrame?: FrameSection;
  debugFrame?: FrameSection;
  bits: 32 | 64;
}

interface Cie {
  codeAlign: bigint;
  dataAlign: bigint;
  raRegister: number;
  fdeEncoding: number;
  hasAugmentationData: boolean;
  signalFrame: boolean;
  addressSize: number;
  /** Absolute offsets of the initial instructions. */
  start: number;
  end: number;
}

interface Fde {
  start: bigint;
  end: bigint;
  cie: Cie;
  insStart: number;
  insEnd: number;
  section: ParsedSection;
}

interface ParsedSection {
  name: '.eh_frame' | '.debug_frame';
  data: Uint8Array;
  addr: bigint;
}

const DW_EH_PE_omit = 0xff;
const MAX_REMEMBER_DEPTH = 64;

export class CallFrameInfo {
  readonly problems: string[] = [];
  /** FDEs sorted by start address. */
  private fdes: Fde[] = [];

  /** @internal */
  add(fdes: Fde[]): void {
    this.fdes.push(...fdes);
    this.fdes.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  /** Number of FDEs (roughly: functions with CFI). */
  get fdeCount(): number { return this.fdes.length; }

  /** Address ranges covered by FDEs. */
  ranges(): { start: bigint; end: bigint; source: string }[] {
    return this.fdes.map((f) => ({ start: f.start, end: f.end, source: f.section.name }));
  }

  private fdeFor(pc: bigint): Fde | undefined {
    const f = this.fdes;
    let lo = 0;
    let hi = f.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (f[mid].start <= pc) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    // FDEs may nest or overlap (e.g. both sections describe a function): look back a little.
    for (let i = found; i >= 0 && i > found - 16; i--) if (pc < f[i].end) return f[i];
    return undefined;
  }

  /** The rules in effect at `pc`, or undefined when no FDE covers it or its program is damaged. */
  unwindRow(pc: bigint): UnwindRow | undefined {
    const fde = this.fdeFor(pc);
    if (!fde) return undefined;
    try {
      return computeRow(fde, pc);
    } catch (e) {
      this.problems.push(`CFI for pc 0x${pc.toString(16)}: ${describeError(e)}`);
      if (this.problems.length > 100) this.problems.splice(0, 50);
      return undefined;
    }
  }
}

/** Parses whichever of .eh_frame and .debug_frame are given. Never throws. */
export function parseCallFrameInfo(input: CfiInput): CallFrameInfo {
  const cfi = new CallFrameInfo();
  const addressSize = input.bits === 64 ? 8 : 4;
  for (const [name, sec] of [['.debug_frame', input.debugFrame], ['.eh_frame', input.ehFrame]] as const) {
    if (!sec || sec.data.length === 0) continue;
    const parsed: ParsedSection = { name, data: sec.data, addr: sec.addr };
    try {
      cfi.add(parseSection(parsed, addressSize, cfi.problems));
    } catch (e) {
      cfi.problems.push(`${name}: ${describeError(e)}`);
    }
  }
  return cfi;
}

function parseSection(sec: ParsedSection, addressSize: number, problems: string[]): Fde[] {
  const eh = sec.name === '.eh_frame';
  const r = new ByteReader(sec.data, 0, sec.data.length, sec.name);
  const cies = new Map<number, Cie | null>();
  const fdes: Fde[] = [];
  while (r.remaining >= 4) {
    const entryOffset = r.pos;
    let entry: ByteReader;
    let offsetSize: 4 | 8;
    try {
      const il = r.initialLength();
      if (il.length === 0) {
        if (eh) break; // .eh_frame terminator
        continue;
      }
      offsetSize = il.offsetSize;
      entry = r.sub(il.length, `${sec.name} entry at 0x${entryOffset.toString(16)}`);
    } catch (e) {
      problems.push(`${describeError(e)}; the rest of ${sec.name} is ignored`);
      break;
    }
    try {
      const idPos = entry.pos;
      const id = offsetSize === 4 ? BigInt(entry.u32()) : entry.u64();
      const isCie = eh ? id === 0n : id === (offsetSize === 4 ? 0xffffffffn : 0xffffffffffffffffn);
      if (isCie) {
        if (!cies.has(entryOffset)) cies.set(entryOffset, readCie(entry, sec, addressSize, entryOffset));
        continue;
      }
      const cieOffset = eh ? idPos - Number(id) : Number(id);
      let cie = cies.get(cieOffset);
      if (cie === undefined) {
        cie = readCieAt(sec, cieOffset, addressSize, problems);
        cies.set(cieOffset, cie);
      }
      if (!cie) continue;
      const fde = readFde(entry, sec, cie);
      if (fde && fde.end > fde.start) fdes.push(fde);
    } catch (e) {
      problems.push(describeError(e));
    }
  }
  return fdes;
}

function readCieAt(sec: ParsedSection, offset: number, addressSize: number, problems: string[]): Cie | null {
  try {
    const r = new ByteReader(sec.data, 0, sec.data.length, sec.name);
    r.seek(offset);
    const il = r.initialLength();
    const entry = r.sub(il.length, `${sec.name} CIE at 0x${offset.toString(16)}`);
    const id = il.offsetSize === 4 ? BigInt(entry.u32()) : entry.u64();
    const isCie = sec.name === '.eh_frame' ? id === 0n : id === (il.offsetSize === 4 ? 0xffffffffn : 0xffffffffffffffffn);
    if (!isCie) throw new DwarfError(`${sec.name}: an FDE points at offset 0x${offset.toString(16)}, which is not a CIE`);
    return readCie(entry, sec, addressSize, offset);
  } catch (e) {
    problems.push(describeError(e));
    return null;
  }
}

function readCie(r: ByteReader, sec: ParsedSection, defaultAddressSize: number, offset: number): Cie {
  const version = r.u8();
  if (version !== 1 && version !== 3 && version !== 4) {
    throw new DwarfError(`${sec.name}: CIE at 0x${offset.toString(16)} has unsupported version ${version}`);
  }
  const augmentation = r.cstr();
  let addressSize = defaultAddressSize;
  if (version === 4) {
    addressSize = r.u8();
    r.u8(); // segment selector size
  }
  if (augmentation.startsWith('eh')) r.skip(addressSize);
  const codeAlign = r.ulebBig();
  const dataAlign = r.slebBig();
  const raRegister = version === 1 ? r.u8() : r.uleb();
  const cie: Cie = {
    codeAlign, dataAlign, raRegister, fdeEncoding: 0, hasAugmentationData: false, signalFrame: false,
    addressSize, start: 0, end: r.end,
  };
  if (augmentation.startsWith('z')) {
    cie.hasAugmentationData = true;
    const len = r.uleb();
    const aug = r.sub(len);
    for (const c of augmentation.slice(1)) {
      if (c === 'R') cie.fdeEncoding = aug.u8();
      else if (c === 'L') aug.u8();
      else if (c === 'P') readEncoded(aug, aug.u8(), sec, addressSize);
      else if (c === 'S') cie.signalFrame = true;
      else break; // unknown letter: the rest of the data is skipped by its length
    }
    r.seek(aug.end);
  } else if (augmentation !== '' && !augmentation.startsWith('eh')) {
    throw new DwarfError(`${sec.name}: CIE at 0x${offset.toString(16)} has augmentation "${augmentation}", which kvmdbg cannot skip`);
  }
  cie.start = r.pos;
  return cie;
}

function readFde(r: ByteReader, sec: ParsedSection, cie: Cie): Fde | undefined {
  const enc = sec.name === '.eh_frame' ? cie.fdeEncoding : 0;
  const start = readEncoded(r, enc, sec, cie.addressSize);
  const range = readEncoded(r, enc & 0x0f, sec, cie.addressSize);
  if (start === undefined || range === undefined) return undefined;
  if (cie.hasAugmentationData) r.skip(r.uleb());
  const mask = cie.addressSize === 4 ? 0xffffffffn : 0xffffffffffffffffn;
  const s = start & mask;
  return { start: s, end: s + (range & mask), cie, insStart: r.pos, insEnd: r.end, section: sec };
}

/** A pointer in a DW_EH_PE_* encoding; undefined for "omit" and for encodings we cannot resolve. */
function readEncoded(r: ByteReader, enc: number, sec: ParsedSection, addressSize: number): bigint | undefined {
  if (enc === DW_EH_PE_omit) return undefined;
  const fieldAddr = sec.addr + BigInt(r.pos);
  let v: bigint;
  switch (enc & 0x0f) {
    case 0x00: v = r.unsigned(addressSize); break;
    case 0x01: v = r.ulebBig(); break;
    case 0x02: v = BigInt(r.u16()); break;
    case 0x03: v = BigInt(r.u32()); break;
    case 0x04: v = r.u64(); break;
    case 0x09: v = r.slebBig(); break;
    case 0x0a: v = BigInt(r.i16()); break;
    case 0x0b: v = BigInt(r.i32()); break;
    case 0x0c: v = r.i64(); break;
    default: throw new DwarfError(`${sec.name}: unknown pointer encoding 0x${enc.toString(16)}`);
  }
  switch (enc & 0x70) {
    case 0x00: break;
    case 0x10: v += fieldAddr; break; // pcrel
    default:
      // textrel/datarel/funcrel/aligned need bases x86 .eh_frame never uses.
      throw new DwarfError(`${sec.name}: pointer encoding 0x${enc.toString(16)} (relative to text/data/function) is not supported`);
  }
  if (enc & 0x80) throw new DwarfError(`${sec.name}: indirect pointer encoding 0x${enc.toString(16)} is not supported`);
  return BigInt.asUintN(64, v);
}

interface State {
  cfa: CfaRule;
  registers: Map<number, RegisterRule>;
}

const clone = (s: State): State => ({ cfa: s.cfa, registers: new Map(s.registers) });

function computeRow(fde: Fde, pc: bigint): UnwindRow {
  const { cie, section } = fde;
  const init: State = { cfa: { kind: 'unsupported', reason: 'no CFA rule' }, registers: new Map() };
  run(section, cie, cie.start, cie.end, init, undefined, fde.start, undefined);
  const state = clone(init);
  const bounds = run(section, cie, fde.insStart, fde.insEnd, state, init, fde.start, pc);
  return {
    start: bounds.start, end: bounds.end ?? fde.end, functionStart: fde.start, functionEnd: fde.end,
    cfa: state.cfa, registers: state.registers, returnAddressRegister: cie.raRegister,
    signalFrame: cie.signalFrame, source: section.name,
  };
}

/**
 * Executes CFA instructions from `loc`, stopping before the first advance
 * past `pc` (all of them when pc is undefined). Returns the row's pc range.
 */
function run(
  sec: ParsedSection, cie: Cie, from: number, to: number, s: State, initial: State | undefined,
  loc: bigint, pc: bigint | undefined,
): { start: bigint; end?: bigint } {
  const r = new ByteReader(sec.data, from, to, `${sec.name} CFA program`);
  const stack: State[] = [];
  let rowStart = loc;
  const setRule = (reg: number, rule: RegisterRule): void => { s.registers.set(reg, rule); };
  const restore = (reg: number): void => {
    const rule = initial?.registers.get(reg);
    if (rule) s.registers.set(reg, rule); else s.registers.delete(reg);
  };
  const offsetRule = (factored: bigint): RegisterRule => ({ kind: 'offset', offset: factored * cie.dataAlign });
  /** Moves to a new location; true when the row for `pc` is complete. */
  const moveTo = (next: bigint): boolean => {
    if (pc !== undefined && next > pc) return true;
    loc = next;
    rowStart = next;
    return false;
  };
  while (r.remaining > 0) {
    const op = r.u8();
    const high = op & 0xc0;
    const low = op & 0x3f;
    if (high === 0x40) { if (moveTo(loc + BigInt(low) * cie.codeAlign)) return { start: rowStart, end: loc + BigInt(low) * cie.codeAlign }; continue; }
    if (high === 0x80) { setRule(low, offsetRule(r.ulebBig())); continue; }
    if (high === 0xc0) { restore(low); continue; }
    let next: bigint | undefined;
    switch (op) {
      case 0x00: break; // nop
      case 0x01: next = readEncoded(r, sec.name === '.eh_frame' ? cie.fdeEncoding : 0, sec, cie.addressSize) ?? loc; break;
      case 0x02: next = loc + BigInt(r.u8()) * cie.codeAlign; break;
      case 0x03: next = loc + BigInt(r.u16()) * cie.codeAlign; break;
      case 0x04: next = loc + BigInt(r.u32()) * cie.codeAlign; break;
      case 0x05: { const reg = r.uleb(); setRule(reg, offsetRule(r.ulebBig())); break; }
      case 0x06: restore(r.uleb()); break;
      case 0x07: setRule(r.uleb(), { kind: 'undefined' }); break;
      case 0x08: setRule(r.uleb(), { kind: 'same' }); break;
      case 0x09: { const reg = r.uleb(); setRule(reg, { kind: 'register', register: r.uleb() }); break; }
      case 0x0a:
        if (stack.length >= MAX_REMEMBER_DEPTH) throw new DwarfError(`DW_CFA_remember_state nested deeper than ${MAX_REMEMBER_DEPTH}`);
        stack.push(clone(s));
        break;
      case 0x0b: {
        const top = stack.pop();
        if (!top) throw new DwarfError('DW_CFA_restore_state without a remembered state');
        s.registers = top.registers;
        s.cfa = top.cfa;
        break;
      }
      case 0x0c: { const reg = r.uleb(); s.cfa = { kind: 'register', register: reg, offset: r.ulebBig() }; break; }
      case 0x0d: {
        const reg = r.uleb();
        s.cfa = { kind: 'register', register: reg, offset: s.cfa.kind === 'register' ? s.cfa.offset : 0n };
        break;
      }
      case 0x0e: s.cfa = cfaOffset(s.cfa, r.ulebBig()); break;
      case 0x0f: r.skip(r.uleb()); s.cfa = { kind: 'unsupported', reason: 'DW_CFA_def_cfa_expression (a DWARF expression for the CFA) is not supported' }; break;
      case 0x10: { const reg = r.uleb(); r.skip(r.uleb()); setRule(reg, { kind: 'unsupported', reason: 'DW_CFA_expression is not supported' }); break; }
      case 0x11: { const reg = r.uleb(); setRule(reg, { kind: 'offset', offset: r.slebBig() * cie.dataAlign }); break; }
      case 0x12: { const reg = r.uleb(); s.cfa = { kind: 'register', register: reg, offset: r.slebBig() * cie.dataAlign }; break; }
      case 0x13: s.cfa = cfaOffset(s.cfa, r.slebBig() * cie.dataAlign); break;
      case 0x14: { const reg = r.uleb(); setRule(reg, { kind: 'val_offset', offset: r.ulebBig() * cie.dataAlign }); break; }
      case 0x15: { const reg = r.uleb(); setRule(reg, { kind: 'val_offset', offset: r.slebBig() * cie.dataAlign }); break; }
      case 0x16: { const reg = r.uleb(); r.skip(r.uleb()); setRule(reg, { kind: 'unsupported', reason: 'DW_CFA_val_expression is not supported' }); break; }
      case 0x2e: r.ulebBig(); break; // DW_CFA_GNU_args_size
      case 0x2f: { const reg = r.uleb(); setRule(reg, { kind: 'offset', offset: -r.ulebBig() * cie.dataAlign }); break; }
      default:
        throw new DwarfError(`unknown CFA instruction 0x${op.toString(16)}`);
    }
    if (next !== undefined && moveTo(next)) return { start: rowStart, end: next };
  }
  return { start: rowStart };
}

function cfaOffset(cfa: CfaRule, offset: bigint): CfaRule {
  return cfa.kind === 'register' ? { kind: 'register', register: cfa.register, offset } : cfa;
}
