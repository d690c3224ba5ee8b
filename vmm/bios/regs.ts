/**
 * The registers a BIOS service reads and answers in, as plain numbers: the
 * caller's, with FLAGS as the caller gets them back (the FLAGS word of its
 * INT frame, or RFLAGS itself when the VMM performs the INT). Services are
 * functions of these and guest memory, so they are tested on fake ones.
 */
export interface BiosRegs {
  eax: number; ebx: number; ecx: number; edx: number;
  esi: number; edi: number; ebp: number;
  /** Segment selectors and the linear bases the CPU uses for them (base = selector * 16 in real mode). */
  ds: number; es: number;
  dsBase: number; esBase: number;
  flags: number;
}

export const FLAG_CF = 0x0001;
export const FLAG_ZF = 0x0040;
export const FLAG_IF = 0x0200;
export const FLAG_TF = 0x0100;

export type Reg32 = 'eax' | 'ebx' | 'ecx' | 'edx';

export const lo8 = (r: BiosRegs, x: Reg32): number => r[x] & 0xff;
export const hi8 = (r: BiosRegs, x: Reg32): number => (r[x] >>> 8) & 0xff;
export const lo16 = (r: BiosRegs, x: Reg32 | 'esi' | 'edi' | 'ebp'): number => r[x] & 0xffff;

export function setLo8(r: BiosRegs, x: Reg32, v: number): void { r[x] = ((r[x] & ~0xff) | (v & 0xff)) >>> 0; }
export function setHi8(r: BiosRegs, x: Reg32, v: number): void { r[x] = ((r[x] & ~0xff00) | ((v & 0xff) << 8)) >>> 0; }
export function setLo16(r: BiosRegs, x: Reg32 | 'esi' | 'edi' | 'ebp', v: number): void { r[x] = ((r[x] & ~0xffff) | (v & 0xffff)) >>> 0; }

export const ah = (r: BiosRegs): number => hi8(r, 'eax');
export const al = (r: BiosRegs): number => lo8(r, 'eax');
export const setAh = (r: BiosRegs, v: number): void => setHi8(r, 'eax', v);
export const setAl = (r: BiosRegs, v: number): void => setLo8(r, 'eax', v);

export function setFlag(r: BiosRegs, flag: number, on: boolean): void {
  r.flags = on ? (r.flags | flag) : (r.flags & ~flag);
}

/** Success: CF clear, AH = 0. */
export function ok(r: BiosRegs): void {
  setAh(r, 0);
  setFlag(r, FLAG_CF, false);
}

/** Failure: CF set, AH = the status code. */
export function fail(r: BiosRegs, status: number): void {
  setAh(r, status);
  setFlag(r, FLAG_CF, true);
}

/** A zeroed register set (tests and the probe build on it). */
export function emptyRegs(over: Partial<BiosRegs> = {}): BiosRegs {
  return { eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, ds: 0, es: 0, dsBase: 0, esBase: 0, flags: 0x2, ...over };
}
