/**
 * The MP feature: one limine_mp_info per vCPU (processor_id and lapic_id as
 * the MADT gives them: the vCPU index), and every AP already in long mode,
 * parked in a loop in bootloader-reclaimable memory that polls its
 * goto_address (an 8-byte aligned load: atomic, with acquire semantics on
 * x86) and, once it is set, jumps there as the protocol says: on its own
 * stack with a 0 return address pushed, RDI = its limine_mp_info, every
 * other register 0. The stack pointer lives in the info's `reserved` field,
 * which the protocol reserves for exactly that.
 */
import { BootCpuState } from './boot-state';
import { BootAllocator } from './limine-alloc';
import { limineCpuState } from './limine-cpu';
import { GuestMemory } from '../memory/guest-memory';

export const MP_INFO_BYTES = 32;
const INFO_RESERVED = 8;

/** pause; load goto_address; loop while 0; then take the stack, push 0 and the target, clear registers, ret. */
export const PARK_CODE = Uint8Array.from([
  0xf3, 0x90,             // park: pause
  0x48, 0x8b, 0x47, 0x10, //   mov rax, [rdi+16]   goto_address
  0x48, 0x85, 0xc0,       //   test rax, rax
  0x74, 0xf5,             //   jz park
  0x48, 0x8b, 0x67, 0x08, //   mov rsp, [rdi+8]    reserved: the stack top
  0x6a, 0x00,             //   push 0              the invalid return address
  0x50,                   //   push rax
  0x31, 0xc0, 0x31, 0xc9, 0x31, 0xd2, 0x31, 0xdb, 0x31, 0xed, 0x31, 0xf6,
  0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9, 0x45, 0x31, 0xd2, 0x45, 0x31, 0xdb,
  0x45, 0x31, 0xe4, 0x45, 0x31, 0xed, 0x45, 0x31, 0xf6, 0x45, 0x31, 0xff,
  0xc3,                   //   ret                 to goto_address
]);

export interface MpWorld {
  memory: GuestMemory;
  alloc: BootAllocator;
  hhdm: bigint;
  cpus: number;
  stackSize: number;
  cr3: number;
  fiveLevel: boolean;
  gdt: bigint;
}

export interface MpAnswer {
  response: number;
  /** States of vCPUs 1..cpus-1, parked. */
  aps: BootCpuState[];
}

export function answerMp(w: MpWorld): MpAnswer {
  const { memory, alloc, hhdm } = w;
  const virt = (p: number) => hhdm + BigInt(p);
  const park = alloc.alloc(PARK_CODE.length, 'the AP parking code', 16);
  memory.write(park, PARK_CODE);
  const infos = alloc.alloc(w.cpus * MP_INFO_BYTES, 'the MP CPU list', 16);
  const list = alloc.alloc(w.cpus * 8, 'the MP CPU list', 8);
  const aps: BootCpuState[] = [];
  for (let id = 0; id < w.cpus; id++) {
    const info = infos + id * MP_INFO_BYTES;
    memory.writeU32(info, id);
    memory.writeU32(info + 4, id);
    memory.writeU64(list + id * 8, virt(info));
    if (id === 0) continue;
    const stack = alloc.alloc(w.stackSize, `the stack of CPU ${id}`, 4096);
    const top = virt(stack + w.stackSize);
    memory.writeU64(info + INFO_RESERVED, top);
    aps.push(limineCpuState({ rip: virt(park), rsp: top - 8n, rdi: virt(info), cr3: w.cr3, fiveLevel: w.fiveLevel, gdt: w.gdt }));
  }
  const response = alloc.alloc(32, 'the MP response', 8);
  memory.writeU64(response, 0n);     // revision
  memory.writeU32(response + 8, 0);  // flags: x2APIC not enabled
  memory.writeU32(response + 12, 0); // bsp_lapic_id
  memory.writeU64(response + 16, BigInt(w.cpus));
  memory.writeU64(response + 24, virt(list));
  return { response, aps };
}
