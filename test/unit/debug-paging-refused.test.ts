// A shutdown on the MOV CR0 that turns on 32-bit paging is named as the host's limit (PVM), not as a broken guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refusedPagingMessage } from '../../vmm/debug/paging-refused';
import type { Regs, Sregs } from '../../native/types';
import type { Segment } from '../../vmm/boot/boot-state';

function regs(over: Partial<Regs> = {}): Regs {
  const z = 0n;
  return { rax: z, rbx: z, rcx: z, rdx: z, rsi: z, rdi: z, rsp: z, rbp: z, r8: z, r9: z, r10: z, r11: z, r12: z, r13: z, r14: z, r15: z, rip: 0x100025n, rflags: 2n, ...over };
}

function sregs(over: Partial<Pick<Sregs, 'cr0' | 'cr4' | 'efer'>> = {}): Sregs {
  const seg: Segment = { base: 0n, limit: 0xffffffff, selector: 8, type: 11, present: true, dpl: 0, db: true, s: true, l: false, g: true, avl: false, unusable: false };
  return {
    cs: seg, ds: seg, es: seg, fs: seg, gs: seg, ss: seg, tr: seg, ldt: seg,
    gdt: { base: 0n, limit: 0 }, idt: { base: 0n, limit: 0x3ff },
    cr0: 0x11n, cr2: 0n, cr3: 0x109000n, cr4: 0x10n, cr8: 0n, efer: 0n, apicBase: 0xfee00900n, interruptBitmap: [0n, 0n, 0n, 0n],
    ...over,
  };
}

// xv6's entry.S: mov %eax,%cr0 with EAX = CR0 | PG | WP.
const MOV_CR0_EAX = Uint8Array.of(0x0f, 0x22, 0xc0);

test('xv6 entry.S on a host without 32-bit paging: the sentence names RIP, the CR0 value and the sandbox', () => {
  assert.equal(refusedPagingMessage(MOV_CR0_EAX, regs({ rax: 0x80010011n }), sregs()),
    "the guest's CPU shut down at RIP 0x100025, on the MOV to CR0 that turns on 32-bit paging (CR0 0x80010011, CR4.PAE clear, "
    + 'as xv6 and other 32-bit kernels do), which cannot fault on hardware: this host\'s KVM does not run 32-bit paging '
    + '(a limit of this host, not of the guest); run it on hardware or nested KVM, or inside the KVM sandbox (test/sandbox/run -- kvmdbg run ...)');
});

test('the source register comes from ModRM: mov %edx,%cr0 reads EDX', () => {
  const code = Uint8Array.of(0x0f, 0x22, 0xc2);
  assert.match(refusedPagingMessage(code, regs({ rdx: 0x80000001n }), sregs())!, /CR0 0x80000001,/);
  assert.equal(refusedPagingMessage(code, regs({ rax: 0x80000001n }), sregs()), undefined);
  // The CPU ignores ModRM.mod here: 0f 22 02 is mov %edx,%cr0 too.
  assert.match(refusedPagingMessage(Uint8Array.of(0x0f, 0x22, 0x02), regs({ rdx: 0x80000001n }), sregs())!, /CR0 0x80000001,/);
});

test('what can fault on hardware, or is not this instruction, stays the guest\'s triple fault', () => {
  const on = regs({ rax: 0x80000011n });
  // PG without PE, NW without CD: #GP on any CPU.
  assert.equal(refusedPagingMessage(MOV_CR0_EAX, regs({ rax: 0x80000010n }), sregs()), undefined);
  assert.equal(refusedPagingMessage(MOV_CR0_EAX, regs({ rax: 0xa0000011n }), sregs()), undefined);
  // PAE paging (PDPTEs are checked), long mode (LME), paging already on: not this case.
  assert.equal(refusedPagingMessage(MOV_CR0_EAX, on, sregs({ cr4: 0x20n })), undefined);
  assert.equal(refusedPagingMessage(MOV_CR0_EAX, on, sregs({ efer: 0x100n })), undefined);
  assert.equal(refusedPagingMessage(MOV_CR0_EAX, on, sregs({ cr0: 0x80000011n })), undefined);
  // MOV to CR3 (reg field 3), MOV from CR0, unreadable code.
  assert.equal(refusedPagingMessage(Uint8Array.of(0x0f, 0x22, 0xd8), on, sregs()), undefined);
  assert.equal(refusedPagingMessage(Uint8Array.of(0x0f, 0x20, 0xc0), on, sregs()), undefined);
  assert.equal(refusedPagingMessage(undefined, on, sregs()), undefined);
  assert.equal(refusedPagingMessage(Uint8Array.of(0x0f, 0x22), on, sregs()), undefined);
});
