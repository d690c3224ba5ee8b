/**
 * The CPU topology a guest reads from CPUID, made consistent with the MADT:
 * `cpus` cores in one package, one thread each, APIC id = vCPU index.
 * KVM_GET_SUPPORTED_CPUID passes the host's topology leaves through (or
 * zeroes them), so an SMP guest would otherwise count packages from the
 * host's shifts, and Linux refuses to boot a CPU whose package exceeds the
 * count it derived ("Package N of CPU M exceeds BIOS package data").
 * Pure data in, data out: unit-testable without KVM.
 */
import type { CpuidEntry } from '../../native/types';

const KVM_CPUID_FLAG_SIGNIFICANT_INDEX = 1;
const CPUID_1_EDX_HTT = 1 << 28;
const LEVEL_SMT = 1;
const LEVEL_CORE = 2;

/** Bits of the APIC id that number the cores of a package. */
export function coreIdBits(cpus: number): number {
  return cpus <= 1 ? 0 : Math.ceil(Math.log2(cpus));
}

/** `entries` (the supported CPUID, already adjusted otherwise) with vCPU `id`'s topology for `cpus` vCPUs. */
export function withTopology(entries: readonly CpuidEntry[], id: number, cpus: number): CpuidEntry[] {
  const bits = coreIdBits(cpus);
  const addressable = 1 << bits;
  const out: CpuidEntry[] = [];
  let extendedLeaves: Set<number> | undefined;
  for (const e of entries) {
    const entry = { ...e };
    switch (entry.function) {
      case 1:
        entry.ebx = ((entry.ebx & 0x0000ffff) | ((cpus > 1 ? addressable : 1) << 16) | (id << 24)) >>> 0;
        entry.edx = cpus > 1 ? (entry.edx | CPUID_1_EDX_HTT) >>> 0 : (entry.edx & ~CPUID_1_EDX_HTT) >>> 0;
        break;
      case 4: {
        // Intel's cache leaf: cores per package, and which of them share this cache.
        if ((entry.eax & 0x1f) === 0) break;  // no more caches
        const level = (entry.eax >>> 5) & 7;
        const sharing = level >= 3 ? addressable - 1 : 0;
        entry.eax = ((entry.eax & 0x00003fff) | (sharing << 14) | ((addressable - 1) << 26)) >>> 0;
        break;
      }
      case 0xb: case 0x1f:
        // Replaced below as a whole (the host may report only some sub-leaves).
        (extendedLeaves ??= new Set()).add(entry.function);
        continue;
      case 0x8000_0008:
        // AMD: NC (cores - 1) and ApicIdCoreIdSize.
        entry.ecx = ((entry.ecx & ~0xf0ff) | (bits << 12) | ((cpus - 1) & 0xff)) >>> 0;
        break;
      case 0x8000_001e:
        // AMD: extended APIC id, one core (compute unit) per vCPU, node 0.
        entry.eax = id;
        entry.ebx = id & 0xff;
        entry.ecx = 0;
        break;
    }
    out.push(entry);
  }
  for (const fn of extendedLeaves ?? []) out.push(...extendedTopology(fn, id, cpus, bits));
  return out;
}

/** Leaf 0xB / 0x1F: an SMT level of one thread, a core level of `cpus`, then the end marker. */
function extendedTopology(fn: number, id: number, cpus: number, bits: number): CpuidEntry[] {
  const leaf = (index: number, eax: number, ebx: number, type: number) =>
    ({ function: fn, index, flags: KVM_CPUID_FLAG_SIGNIFICANT_INDEX, eax, ebx, ecx: ((type << 8) | index) >>> 0, edx: id });
  return [leaf(0, 0, 1, LEVEL_SMT), leaf(1, bits, cpus, LEVEL_CORE), leaf(2, 0, 0, 0)];
}
