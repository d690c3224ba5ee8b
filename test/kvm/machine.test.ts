// KVM tier: the Machine API (vmm/machine/machine.ts) booting our test kernels
// on a real /dev/kvm (inside test/sandbox/run where the host has none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Machine } from '../../vmm/machine/machine';
import { CONTROL_PAUSE } from '../../vmm/machine/protocol';
import {
  BOOT_MS, MEMORY_64M, TEST_KERNELS, banner, defaultOutput, ended, hex, kernelPath, symbol, within,
} from './helpers/guests';
import { boot } from './helpers/machine';

for (const name of TEST_KERNELS) {
  test(`${name}: boots through the API, prints its exact default output, powers off with status 0`, async () => {
    const { machine, console } = await boot(name);
    const stops: unknown[] = [];
    machine.on('stopped', (s) => stops.push(s));
    machine.resume();
    const end = await ended(machine, BOOT_MS);
    assert.equal(console.text, defaultOutput(name));
    assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
    assert.deepEqual(stops, [], 'nothing stopped the vCPU on the way');
    const exits = machine.exits.snapshot();
    // The console alone is hundreds of port writes; mmio_test touches 0xD0000000.
    assert.ok((exits.io ?? 0) > 100, `io exits: ${JSON.stringify(exits)}`);
    assert.ok((exits.mmio ?? 0) >= 2, `mmio exits (one write, one read): ${JSON.stringify(exits)}`);
    assert.equal(exits.shutdown, undefined, 'no shutdown exit');
  });
}

test('pvh64 `count exit=3`: debug-exit status 7, and tick_counter in guest memory reads 1000', async () => {
  const { machine, console } = await boot('pvh64', 'count exit=3');
  machine.resume();
  const end = await ended(machine, BOOT_MS);
  const lines = console.text.split('\n');
  assert.equal(lines[1], 'count = 1000');
  assert.equal(lines[2], 'cmdline: count exit=3');
  assert.ok(console.text.endsWith('step result = 0x1234abcd\ndone\n'), console.text);
  assert.deepEqual([end.kind, end.status], ['debug-exit', 7], end.message);
  assert.equal(machine.memory.readU64(symbol('pvh64', 'tick_counter')), 1000n);
  assert.equal(machine.memory.readU32(symbol('pvh64', 'result_value')), 0xa7ecfaa9, 'result_value holds the checksum');
});

test('multiboot32 `echo`: host input reaches the guest UART and is echoed back', async () => {
  const { machine, console } = await boot('multiboot32', 'echo');
  machine.resume();
  await console.waitFor('echo ready\n', BOOT_MS);
  machine.sendInput(Buffer.from('hello q'));
  const end = await ended(machine, BOOT_MS);
  assert.equal(console.text, banner('multiboot32') + 'echo ready\nhello \necho done\n');
  assert.deepEqual([end.kind, end.status], ['poweroff', 0], end.message);
});

for (const name of ['pvh64', 'multiboot32'] as const) {
  test(`${name} \`spin\`: pause() stops a vCPU spinning with interrupts off, inside spin_loop; resume; stop()`, async () => {
    const { machine, console } = await boot(name, 'spin');
    const loop = symbol(name, 'spin_loop');
    // spin_loop: incl spin_counter; jmp spin_loop  (6 + 2 bytes in 64-bit, 6 + 2 in 32-bit)
    const loopEnd = loop + 8;
    const counter = symbol(name, 'spin_counter');
    const stopped: { reason: string }[] = [];
    machine.on('stopped', (s) => stopped.push(s));
    try {
      machine.resume();
      await console.waitFor('spinning\n', BOOT_MS);
      assert.equal(console.text, banner(name) + 'spinning\n');
      // The console shows 'spinning' as the guest's last OUT returns, a few instructions before
      // spin_loop: wait until the loop has counted, so the pause lands inside it.
      const counting = Date.now() + 60_000;
      while (machine.memory.readU32(counter) === 0 && Date.now() < counting) await new Promise((r) => setTimeout(r, 5));

      const first = await within(machine.pause(), 30_000, 'pause() of a guest spinning with interrupts off');
      assert.equal(first.reason, 'pause');
      assert.equal(machine.running, false);
      const regs = await machine.getRegs();
      assert.ok(regs.rip >= BigInt(loop) && regs.rip < BigInt(loopEnd),
        `RIP ${hex(regs.rip)} is not inside spin_loop [${hex(loop)}, ${hex(loopEnd)})`);
      assert.equal(regs.rflags & 0x200n, 0n, 'interrupts are off (IF clear) while spinning');
      const count1 = machine.memory.readU32(counter);
      assert.ok(count1 > 0, 'spin_counter has counted');
      // Paused means paused: the counter does not move.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(machine.memory.readU32(counter), count1, 'spin_counter moved while the vCPU was paused');

      machine.resume();
      assert.equal(machine.running, true);
      // Let it count again, then pause a second time: the kick works more than once.
      const deadline = Date.now() + 60_000;
      while (machine.memory.readU32(counter) === count1) {
        assert.ok(Date.now() < deadline, 'spin_counter did not move after resume()');
        await new Promise((r) => setTimeout(r, 20));
      }
      const second = await within(machine.pause(), 30_000, 'the second pause()');
      assert.equal(second.reason, 'pause');
      const rip2 = (await machine.getRegs()).rip;
      assert.ok(rip2 >= BigInt(loop) && rip2 < BigInt(loopEnd), `RIP ${hex(rip2)} after the second pause`);
      assert.deepEqual(stopped.map((s) => s.reason), ['pause', 'pause'], "'stopped' events");

      machine.resume();
      const end = await within(machine.stop(), 30_000, 'stop() of a running spinning guest');
      assert.equal(end.kind, 'stopped');
      assert.notEqual(end.status, 0);
      assert.equal(machine.ended, end);
      await assert.rejects(machine.getRegs(), /ended/, 'requests after the end say the VM has ended');
    } finally {
      await machine.stop().catch(() => {});
    }
  });
}

test('two machines in one process run at once, each with its own devices and output', async () => {
  const a = await boot('pvh64', 'exit=1 first');
  const b = await boot('multiboot32', 'exit=2 second');
  a.machine.resume();
  b.machine.resume();
  const [endA, endB] = await Promise.all([ended(a.machine, BOOT_MS, 'machine A'), ended(b.machine, BOOT_MS, 'machine B')]);
  assert.equal(a.console.text, defaultOutput('pvh64', 'exit=1 first'));
  assert.equal(b.console.text, defaultOutput('multiboot32', 'exit=2 second'));
  assert.deepEqual([endA.kind, endA.status], ['debug-exit', 3], endA.message);
  assert.deepEqual([endB.kind, endB.status], ['debug-exit', 5], endB.message);
  assert.ok((a.machine.exits.snapshot().io ?? 0) > 100 && (b.machine.exits.snapshot().io ?? 0) > 100, 'each counts its own exits');
});

test('two machines at once: one spinning does not hold up the other, and pausing one leaves the other alone', async () => {
  const spinner = await boot('pvh64', 'spin');
  const worker = await boot('elf64', '');
  try {
    spinner.machine.resume();
    await spinner.console.waitFor('spinning\n', BOOT_MS);
    worker.machine.resume();
    const end = await ended(worker.machine, BOOT_MS, 'the second machine');
    assert.equal(worker.console.text, defaultOutput('elf64'));
    assert.deepEqual([end.kind, end.status], ['poweroff', 0]);
    assert.equal(spinner.machine.running, true, 'the spinner is still running');
    assert.equal(spinner.console.text, banner('pvh64') + 'spinning\n', 'no output crossed over');
    const p = await within(spinner.machine.pause(), 30_000, 'pausing the spinner');
    assert.equal(p.reason, 'pause');
  } finally {
    await spinner.machine.stop().catch(() => {});
    await worker.machine.stop().catch(() => {});
  }
});

for (const name of ['pvh64', 'multiboot32'] as const) {
  test(`${name} \`triple\`: the VM ends with kind 'triple-fault' and a sentence, not a hang`, async () => {
    const { machine, console } = await boot(name, 'triple');
    machine.resume();
    const end = await ended(machine, BOOT_MS, 'a triple-faulting guest to end');
    assert.equal(console.text, banner(name) + 'triple faulting\n');
    assert.equal(end.kind, 'triple-fault');
    assert.notEqual(end.status, 0);
    assert.match(end.message, /triple.fault/i);
  });
}

test('a kernel that is not a kernel: Machine.create rejects with one sentence naming the file', async () => {
  const file = kernelPath('pvh64').replace(/test\/guests\/build\/pvh64\.elf$/, 'package.json');
  await assert.rejects(Machine.create({ kernel: file, memoryBytes: MEMORY_64M }), (e: Error) => {
    assert.ok(e.message.includes(file), e.message);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
});

test('a pause that reaches a vCPU after it already stopped (the all-stop race of two vCPUs) does not swallow its next step', async () => {
  const { machine } = await boot('pvh64');
  try {
    const before = (await machine.getRegs()).rip;
    // What AllStop's second machine.pause() does when a vCPU stopped meanwhile: its control word gets PAUSE again.
    (machine as unknown as { threads: { signal(bit: number): void }[] }).threads[0].signal(CONTROL_PAUSE);
    const stop = await within(machine.step(), BOOT_MS, 'the step');
    assert.equal(stop.reason, 'step', JSON.stringify(stop, (_, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
    assert.notEqual((await machine.getRegs()).rip, before, 'the step executed an instruction');
  } finally {
    await machine.stop();
  }
});
