// kvm-needs: real-mode
// KVM tier: a BIOS boot sector under the debug adapter, as F5 on a disk
// image runs it: stopped on entry in the BIOS ROM (F000:E000), an
// instruction breakpoint at 0000:7C00 stops on the boot sector's first
// instruction, disassembled as 16-bit code, an instruction step moves on,
// and keys typed while stopped reach the guest's INT 16h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, GUEST_DIR } from './helpers/guests';
import { finishDap, launchDap, nextStop, register, startDap, stopAfter } from './helpers/dap-session';

const DISK = join(GUEST_DIR, 'bios-disk.img');

test('F5 on a boot disk: stop on entry in the ROM, a breakpoint at 0x7c00, 16-bit disassembly, an instruction step, keys typed while stopped read by INT 16h', async () => {
  const s = await startDap(BOOT_MS);
  try {
    const entry = nextStop(s, 'the stop on entry');
    await launchDap(s, { kernel: DISK, memory: '64M', stopOnEntry: true });
    assert.equal((await entry).body.reason, 'entry');
    assert.deepEqual([await register(s, 'eip'), await register(s, 'cs')], [0xe000n, 0xf000n]);
    const bp = await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: 'v:0x7c00' }] }) as DebugProtocol.SetInstructionBreakpointsResponse;
    assert.equal(bp.body.breakpoints[0].verified, true);
    const hit = await stopAfter(s, 'breakpoint', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(hit.body.reason, 'instruction breakpoint');
    assert.deepEqual([await register(s, 'eip'), await register(s, 'cs'), (await register(s, 'edx')) & 0xffn], [0x7c00n, 0n, 0x80n]);
    const dis = await s.dc.customRequest('disassemble', { memoryReference: 'v:0x7c00', instructionCount: 3 }) as DebugProtocol.DisassembleResponse;
    assert.deepEqual(dis.body!.instructions.map((i) => i.instruction), ['ljmp $0,$0x7C05', 'xor %ax,%ax', 'mov %ax,%ds']);
    await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
    await stopAfter(s, 'step', () => s.dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    assert.equal(await register(s, 'eip'), 0x7c05n, 'one instruction: the far jump');
    // Typed while stopped: the keys wait in the keyboard until stage 2 reads its line, then it powers off.
    await s.dc.customRequest('kvm/keyboard', { text: 'dap\n' });
    const exited = s.dc.waitForEvent('exited', BOOT_MS) as Promise<DebugProtocol.ExitedEvent>;
    await s.dc.continueRequest({ threadId: 1 });
    assert.equal((await exited).body.exitCode, 0, 'the guest powered off after reading its line');
  } finally {
    await finishDap(s);
  }
});
