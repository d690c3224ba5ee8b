/**
 * Reading the kernel's virtual memory whether or not a vCPU is stopped.
 * Guest RAM is shared memory, so a read needs only a translation: the
 * page tables a vCPU last used (exact when stopped), the kernel's own
 * init_top_pgt (the kernel half of every address space, which the kernel
 * never frees), and, before those exist, the kernel image's fixed mapping
 * (__START_KERNEL_map + phys_base). While the guest runs the bytes may be
 * changing under the read: the readers bound and check everything anyway.
 */
import type { GuestMemory } from '../../vmm/memory/guest-memory';
import type { PagingState } from '../../vmm/debug/page-walk';
import { readPhysical, VirtualReader } from '../../vmm/debug/virtual-memory';

const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;
const KERNEL_IMAGE_END = 0xffff_ffff_c000_0000n;
/**
 * The kernel's half of the address space: bit 63 set. With 4-level paging it
 * starts at 0xffff800000000000, with 5-level (LA57) at 0xff00000000000000,
 * where Linux puts its direct map (0xff11000000000000) and stacks.
 */
export const KERNEL_HALF = 1n << 63n;
const CR0_PE_PG = 0x8000_0001n;
const CR4_PAE = 0x20n;
const CR4_LA57 = 0x1000n;
// NXE: Linux turns it on wherever the CPU has NX and marks its data pages no-execute (bit 63); without it that
// bit is reserved and every walk of the direct map failed.
const EFER_LME_LMA_NXE = 0xd00n;

export interface KernelMemoryInput {
  memory: GuestMemory;
  /** The paging state a vCPU last had (undefined before any was read). */
  paging?: PagingState;
  /** Whether a vCPU is stopped now: then its paging is tried first. */
  stopped: boolean;
  /** init_top_pgt's run-time virtual address, when the symbols have it. */
  initTopPgt?: bigint;
  /**
   * __pgtable_l5_enabled's address (a kernel built with 5-level paging):
   * whether init_top_pgt is a 5-level table, when the paging last seen is
   * from before the kernel turned LA57 on (its boot, on a CPU with la57).
   */
  l5Enabled?: bigint;
}

export type ReadMemory = (address: bigint, size: number) => Uint8Array | undefined;

export function kernelMemory(input: KernelMemoryInput): ReadMemory {
  const { memory } = input;
  const physical = (pa: bigint, size: number): Uint8Array | undefined => {
    if (pa < 0n || pa + BigInt(size) > 1n << 52n) return undefined;
    const r = readPhysical(memory, Number(pa), size);
    return r.unreadableBytes === 0 ? r.data : undefined;
  };
  // The image's own mapping: phys = virt - __START_KERNEL_map + phys_base (0 for a kernel run where it was linked).
  const image = (va: bigint, size: number): Uint8Array | undefined =>
    (va >= START_KERNEL_MAP && va + BigInt(size) <= KERNEL_IMAGE_END ? physical(va - START_KERNEL_MAP, size) : undefined);
  const readers: VirtualReader[] = [];
  // Paging off (a kernel before it enables it): the vCPU's addresses are physical ones, as the reader takes them.
  const vcpuPaging = input.paging ? new VirtualReader(memory, input.paging) : undefined;
  let kernelPaging: VirtualReader | undefined;
  if (input.initTopPgt !== undefined && input.initTopPgt >= START_KERNEL_MAP) {
    const flag = input.l5Enabled !== undefined ? image(input.l5Enabled, 4) : undefined;
    const kernelUsesLa57 = flag !== undefined && (flag[0] | flag[1] | flag[2] | flag[3]) !== 0;
    const la57 = (input.paging && input.paging.cr4 & CR4_LA57) || kernelUsesLa57 ? CR4_LA57 : 0n;
    kernelPaging = new VirtualReader(memory, { cr0: CR0_PE_PG, cr3: input.initTopPgt - START_KERNEL_MAP, cr4: CR4_PAE | la57, efer: EFER_LME_LMA_NXE });
  }
  if (input.stopped) { if (vcpuPaging) readers.push(vcpuPaging); if (kernelPaging) readers.push(kernelPaging); }
  else { if (kernelPaging) readers.push(kernelPaging); if (vcpuPaging) readers.push(vcpuPaging); }
  return (address, size) => {
    if (size <= 0) return new Uint8Array(0);
    for (const r of readers) {
      // A user address means nothing in the kernel's own tables.
      if (r === kernelPaging && address < KERNEL_HALF) continue;
      const b = r.readExact(address, size);
      if (b) return b;
    }
    return image(address, size);
  };
}
