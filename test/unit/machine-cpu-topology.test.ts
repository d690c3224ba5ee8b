// CPUID topology for SMP guests (vmm/machine/cpu-topology.ts): N cores in one
// package, APIC id = vCPU index, whatever topology the host's leaves claimed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreIdBits, withTopology } from '../../vmm/machine/cpu-topology';
import type { CpuidEntry } from '../../native/types';

const e = (fn: number, index: number, eax = 0, ebx = 0, ecx = 0, edx = 0, flags = 0): CpuidEntry => ({ function: fn, index, flags, eax, ebx, ecx, edx });

/** A host that claims 2 threads per core, 8 cores (as KVM_GET_SUPPORTED_CPUID may pass through). */
const HOST: CpuidEntry[] = [
  e(1, 0, 0x800f12, 0x10_08_0800, 0x7ed8320b, 0x178bfbff),
  e(4, 0, (1 << 26) | (1 << 14) | (1 << 5) | 1), // L1 data, "shared by 2 threads", 2 cores
  e(4, 3, (7 << 26) | (15 << 14) | (3 << 5) | 3), // L3
  e(4, 4, 0),                                    // end of caches
  e(0xb, 0, 1, 2, 0x100, 5, 1),
  e(0x8000_0008, 0, 0x3030, 0, 0x400f, 0),
  e(0x8000_001e, 0, 9, 0x107, 0x300, 0),
];

test('coreIdBits: the APIC id bits that number cores', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 8, 9].map(coreIdBits), [0, 1, 2, 2, 3, 3, 4]);
});

for (const cpus of [1, 2, 3, 8]) {
  test(`${cpus} vCPU(s): every vCPU sees its own APIC id and ${cpus} core(s) in one package`, () => {
    const bits = coreIdBits(cpus);
    for (let id = 0; id < cpus; id++) {
      const out = withTopology(HOST, id, cpus);
      const leaf = (fn: number, index = 0) => out.find((x) => x.function === fn && x.index === index)!;
      assert.equal(leaf(1).ebx >>> 24, id, 'CPUID.1 EBX[31:24] = initial APIC id');
      assert.equal(leaf(1).ebx & 0xffff, 0x0800, 'CLFLUSH size and brand index kept');
      assert.equal((leaf(1).ebx >>> 16) & 0xff, cpus > 1 ? 1 << bits : 1, 'logical processors per package');
      assert.equal((leaf(1).edx >>> 28) & 1, cpus > 1 ? 1 : 0, 'HTT only with more than one');
      assert.equal(leaf(4).eax >>> 26, (1 << bits) - 1, 'Intel cores per package - 1');
      assert.equal((leaf(4).eax >>> 14) & 0xfff, 0, 'L1 is per core');
      assert.equal((leaf(4, 3).eax >>> 14) & 0xfff, (1 << bits) - 1, 'L3 is shared by the package');
      assert.equal(leaf(4, 4).eax, 0, 'the end-of-caches entry stays empty');
      const xt = out.filter((x) => x.function === 0xb);
      assert.deepEqual(xt.map((x) => [x.index, x.eax, x.ebx, x.ecx, x.edx, x.flags]), [
        [0, 0, 1, 0x100, id, 1], [1, bits, cpus, 0x201, id, 1], [2, 0, 0, 2, id, 1],
      ], 'leaf 0xB: SMT level of 1, core level of N, then the end');
      assert.equal(leaf(0x8000_0008).ecx & 0xff, cpus - 1, 'AMD NC');
      assert.equal((leaf(0x8000_0008).ecx >>> 12) & 0xf, bits, 'AMD ApicIdCoreIdSize');
      assert.deepEqual([leaf(0x8000_001e).eax, leaf(0x8000_001e).ebx, leaf(0x8000_001e).ecx], [id, id, 0], 'AMD extended APIC id, core id, node 0');
    }
  });
}

test('leaves the host did not report are not invented (no 0x1F, no AMD leaves)', () => {
  const out = withTopology([e(1, 0), e(0xb, 0, 1, 2, 0x100, 0, 1)], 1, 2);
  assert.deepEqual([...new Set(out.map((x) => x.function))], [1, 0xb]);
  assert.equal(HOST[0].ebx, 0x10_08_0800, 'the input is not modified');
});
