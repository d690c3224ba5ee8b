/**
 * The kernel's data as the Linux readers (dmesg, tasks, iomem...) see it:
 * globals and types by name from DWARF, members by name, integers,
 * pointers and strings read through the value model (variables/). Nothing
 * here knows an offset: a layout this kernel's DWARF does not have is a
 * LinuxError naming what is missing, one sentence, and the feature is off
 * for that kernel while the rest of the session goes on.
 */
import type { CType, RecordType } from '../dwarf/model';
import type { ExprContext } from '../expr';
import { lookupVariable } from '../expr/context';
import { findMember, isRecord, sizeOf, strip, type FoundMember } from '../variables/ctype';
import { readCString } from '../variables/c-string';
import { typeName } from '../variables/type-name';
import { addressOf, hex, intValue, memberValue, memoryValue, ValueError, type Value } from '../variables/value';

/** Why a Linux reader cannot go on: a whole sentence for the user. */
export class LinuxError extends Error {}

export class Kernel {
  constructor(readonly ctx: ExprContext) {}

  get frame() {
    return this.ctx.frame;
  }

  /** A global variable (or undefined when the kernel's DWARF has none by that name). */
  global(name: string): Value | undefined {
    const v = lookupVariable(this.ctx, name);
    if (!v) return undefined;
    let location;
    try { location = v.location(this.frame); } catch { return undefined; }
    return { type: v.type(), location, frame: this.frame };
  }

  /** A global the feature cannot do without. */
  need(name: string, feature: string): Value {
    const v = this.global(name);
    if (!v) throw new LinuxError(`${feature} needs the kernel's '${name}', which its DWARF does not describe`);
    return v;
  }

  /** A type by C name ("struct task_struct"), or undefined. */
  type(name: string): CType | undefined {
    return this.ctx.debug?.findType(name);
  }

  /** A member of a struct value (anonymous members looked into); undefined when the type has none by that name. */
  member(v: Value, name: string): Value | undefined {
    const m = memberOf(v.type, name);
    return m ? memberValue(v, m) : undefined;
  }

  /** A member the feature needs. */
  field(v: Value, name: string, feature: string): Value {
    const m = memberOf(v.type, name);
    if (!m) throw new LinuxError(`${feature} needs member '${name}' of ${safeName(v.type)}, which this kernel's DWARF does not have`);
    return memberValue(v, m);
  }

  /** The first of several members that exists (a layout that changed between kernel versions). */
  firstField(v: Value, names: string[], feature: string): Value {
    for (const n of names) {
      const m = this.member(v, n);
      if (m) return m;
    }
    throw new LinuxError(`${feature} needs one of the members ${names.map((n) => `'${n}'`).join(', ')} of ${safeName(v.type)}, which this kernel's DWARF does not have`);
  }

  /** An integer or pointer; a value that cannot be read is a LinuxError saying what was being read. An atomic_t/atomic_long_t reads its counter. */
  int(v: Value, what: string): bigint {
    const t = strip(v.type);
    if (isRecord(t)) {
      const counter = this.member(v, 'counter');
      if (counter) return this.int(counter, what);
    }
    try {
      return intValue(v);
    } catch (e) {
      if (e instanceof ValueError) throw new LinuxError(`${what}: ${e.message}`);
      throw e;
    }
  }

  /** The address a value lives at (in memory), or a LinuxError. */
  address(v: Value, what: string): bigint {
    const a = addressOf(v);
    if (a === undefined) throw new LinuxError(`${what} is not in memory`);
    return a;
  }

  /** The value of type `type` at `address`. */
  at(type: CType, address: bigint): Value {
    return memoryValue(type, address, this.frame);
  }

  /** What a pointer value points at, as a value of its target type. */
  deref(p: Value, what: string): Value {
    const t = strip(p.type);
    if (t.kind !== 'pointer') throw new LinuxError(`${what} is not a pointer`);
    return this.at(t.target(), this.int(p, what));
  }

  /** A char array member or a char pointer as text (NUL-terminated, at most `max` bytes). */
  text(v: Value, what: string, max = 4096): string {
    const t = strip(v.type);
    let address: bigint;
    let limit = max;
    if (t.kind === 'array') {
      address = this.address(v, what);
      // `char linux_banner[]` (a declaration without a size) reads up to the NUL.
      const size = sizeOf(v.type);
      if (size > 0) limit = Math.min(max, size);
    } else {
      address = this.int(v, what);
      if (address === 0n) return '';
    }
    try {
      return Buffer.from(readCString(this.frame, address, limit).bytes).toString('latin1');
    } catch (e) {
      if (e instanceof ValueError) throw new LinuxError(`${what}: ${e.message}`);
      throw e;
    }
  }

  /** The NUL-terminated string at `address` (at most `max` bytes). */
  string(address: bigint, what: string, max = 4096): string {
    try {
      return Buffer.from(readCString(this.frame, address, max).bytes).toString('latin1');
    } catch (e) {
      if (e instanceof ValueError) throw new LinuxError(`${what}: ${e.message}`);
      throw e;
    }
  }

  /** `length` bytes at `address` (undefined when any is unreadable). */
  bytes(address: bigint, length: number): Uint8Array | undefined {
    if (length <= 0) return new Uint8Array(0);
    try {
      return this.frame.readMemory(address, length);
    } catch {
      return undefined;
    }
  }

  /** `bytes` or a LinuxError. */
  mustRead(address: bigint, length: number, what: string): Uint8Array {
    const b = this.bytes(address, length);
    if (!b || b.length < length) throw new LinuxError(`${what}: cannot read ${length} bytes at ${hex(address)} (not mapped)`);
    return b;
  }
}

export function memberOf(type: CType, name: string): FoundMember | undefined {
  const t = strip(type);
  return isRecord(t) ? findMember(t as RecordType, name) : undefined;
}

function safeName(t: CType): string {
  try { return typeName(t); } catch { return 'its type'; }
}

/** Text from the guest for one line of output: control characters other than tab shown as escapes. */
export function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
