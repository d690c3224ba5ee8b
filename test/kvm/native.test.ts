// KVM tier: the native addon against a real /dev/kvm, with tiny hand-assembled
// real-mode guests written straight into a SharedArrayBuffer. Run inside
// test/sandbox/run where the host has no /dev/kvm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Cap, Kvm, KvmError, PitFlag, kick, pageAlignedOffset, type Vcpu, type VcpuExit, type Vm } from '../../native';

const CODE = 0x1000;
const RAM = 0x10000;

interface Guest { kvm: Kvm; vm: Vm; vcpu: Vcpu; ram: Uint8Array }

/** A 64 KiB real-mode guest with `code` at 0x1000, CS base 0, IP 0x1000. */
function guest(code: number[], irqchip = false): Guest {
  const kvm = new Kvm();
  const vm = kvm.createVm();
  vm.setTssAddr(0xfffb_d000);
  if (irqchip) vm.createIrqchip();
  const buffer = new SharedArrayBuffer(RAM + 4096);
  const offset = pageAlignedOffset(buffer);
  vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: RAM, buffer, offset });
  const ram = new Uint8Array(buffer, offset, RAM);
  ram.set(code, CODE);
  const vcpu = vm.createVcpu(0);
  const s = vcpu.getSregs();
  vcpu.setSregs({ cs: { ...s.cs, base: 0n, selector: 0 } });
  vcpu.setRegs({ rip: BigInt(CODE), rflags: 2n });
  return { kvm, vm, vcpu, ram };
}

function close(g: Guest): void {
  g.vcpu.close();
  g.vm.close();
  g.kvm.close();
}

function expectKind<K extends VcpuExit['kind']>(exit: VcpuExit, kind: K): Extract<VcpuExit, { kind: K }> {
  assert.equal(exit.kind, kind, `expected a ${kind} exit, got ${JSON.stringify(exit, (_, v) => typeof v === 'bigint' ? `0x${v.toString(16)}` : v)}`);
  return exit as Extract<VcpuExit, { kind: K }>;
}

test('host: API version, capabilities, CPUID, MSR list', () => {
  const kvm = new Kvm();
  assert.equal(kvm.apiVersion(), 12);
  assert.ok(kvm.vcpuMmapSize() >= 4096);
  for (const cap of [Cap.USER_MEMORY, Cap.IRQCHIP, Cap.PIT2, Cap.IMMEDIATE_EXIT, Cap.SET_GUEST_DEBUG, Cap.EXT_CPUID]) {
    assert.ok(kvm.checkExtension(cap) > 0, `KVM_CAP_${Cap[cap]}`);
  }
  assert.ok(kvm.checkExtension(Cap.MAX_VCPUS) >= 1);
  const cpuid = kvm.supportedCpuid();
  assert.ok(cpuid.some((e) => e.function === 0), 'CPUID leaf 0');
  assert.ok(kvm.msrIndexList().includes(0x174), 'IA32_SYSENTER_CS in the MSR list');
  assert.throws(() => kvm.requireExtension(9999 as Cap, 'a test'), /lacks capability 9999, needed for a test/);
  kvm.close();
});

test('OUT to a port: io exit with port, size and data; then HLT', () => {
  // mov al,0x42; mov dx,0x3f8; out dx,al; hlt
  const g = guest([0xb0, 0x42, 0xba, 0xf8, 0x03, 0xee, 0xf4]);
  const io = expectKind(g.vcpu.run(), 'io');
  assert.deepEqual([io.direction, io.port, io.size, io.count, [...io.data]], ['out', 0x3f8, 1, 1, [0x42]]);
  expectKind(g.vcpu.run(), 'hlt');
  close(g);
});

test('IN completed with a value the guest OUTs back; completePendingIo makes registers consistent', () => {
  // mov dx,0x10; in ax,dx; mov dx,0x11; out dx,ax; hlt
  const g = guest([0xba, 0x10, 0x00, 0xed, 0xba, 0x11, 0x00, 0xef, 0xf4]);
  const io = expectKind(g.vcpu.run(), 'io');
  assert.deepEqual([io.direction, io.port, io.size, io.data.length], ['in', 0x10, 2, 2]);
  io.data.set([0x34, 0x12]);
  assert.equal(g.vcpu.completePendingIo(), undefined);
  const regs = g.vcpu.getRegs();
  assert.equal(regs.rax & 0xffffn, 0x1234n);
  assert.equal(regs.rip, BigInt(CODE + 4), 'RIP past the IN');
  const out = expectKind(g.vcpu.run(), 'io');
  assert.deepEqual([out.direction, out.port, out.size, [...out.data]], ['out', 0x11, 2, [0x34, 0x12]]);
  expectKind(g.vcpu.run(), 'hlt');
  close(g);
});

test('MMIO write and read, the read completed and echoed to a port', () => {
  // mov ax,0x2000; mov ds,ax; mov byte [0x10],0x77; mov al,[0x20]; mov dx,0x11; out dx,al; hlt
  const g = guest([0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xc6, 0x06, 0x10, 0x00, 0x77, 0xa0, 0x20, 0x00, 0xba, 0x11, 0x00, 0xee, 0xf4]);
  const w = expectKind(g.vcpu.run(), 'mmio');
  assert.deepEqual([w.isWrite, w.address, w.size, [...w.data]], [true, 0x20010, 1, [0x77]]);
  const r = expectKind(g.vcpu.run(), 'mmio');
  assert.deepEqual([r.isWrite, r.address, r.size], [false, 0x20020, 1]);
  r.data[0] = 0x99;
  const out = expectKind(g.vcpu.run(), 'io');
  assert.deepEqual([out.port, [...out.data]], [0x11, [0x99]]);
  expectKind(g.vcpu.run(), 'hlt');
  close(g);
});

test('register state round trips: regs, sregs, fpu, xsave, msrs, cpuid, mp state, events, translate', () => {
  const kvm = new Kvm();
  const g = guest([0xf4]);
  const regs = { ...g.vcpu.getRegs(), rax: 0x1122334455667788n, r15: 0xffff_ffff_ffff_fffen, rip: 0x1000n };
  g.vcpu.setRegs(regs);
  assert.deepEqual(g.vcpu.getRegs(), regs);
  const sregs = g.vcpu.getSregs();
  sregs.ds = { ...sregs.ds, base: 0x20000n, selector: 0x2000 };
  g.vcpu.setSregs(sregs);
  assert.deepEqual(g.vcpu.getSregs().ds, sregs.ds);
  assert.equal(g.vcpu.getSregs().interruptBitmap.length, 4);
  const fpu = g.vcpu.getFpu();
  fpu.fcw = 0x27f;
  fpu.xmm[0] = 0xab;
  g.vcpu.setFpu(fpu);
  assert.equal(g.vcpu.getFpu().fcw, 0x27f);
  assert.equal(g.vcpu.getFpu().xmm[0], 0xab);
  const xsave = g.vcpu.getXsave();
  assert.ok(xsave.length >= 4096);
  g.vcpu.setXsave(xsave);
  g.vcpu.setMsrs([{ index: 0x174, value: 0x10n }]);
  assert.deepEqual(g.vcpu.getMsrs([0x174]), [{ index: 0x174, value: 0x10n }]);
  g.vcpu.setCpuid2(kvm.supportedCpuid());
  assert.equal(typeof g.vcpu.getMpState(), 'number');
  assert.equal(g.vcpu.getVcpuEvents().nmiPending, false);
  assert.equal(g.vcpu.getDebugRegs().db.length, 4);
  const t = g.vcpu.translate(0x1234);
  assert.deepEqual([t.physicalAddress, t.valid], [0x1234n, true]);
  close(g);
  kvm.close();
});

test('single-step gives debug exits with advancing RIP', () => {
  const g = guest([0x90, 0x90, 0x90, 0x90, 0xf4]);
  g.vcpu.setGuestDebug({ enable: true, singleStep: true });
  const pcs: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    const d = expectKind(g.vcpu.run(), 'debug');
    assert.equal(d.exception, 1);
    pcs.push(d.pc);
  }
  assert.deepEqual(pcs.map((pc) => pc - pcs[0]), [0n, 1n, 2n]);
  assert.ok(pcs[0] === 0x1000n || pcs[0] === 0x1001n, `first step at 0x${pcs[0].toString(16)}`);
  g.vcpu.setGuestDebug({ enable: false });
  expectKind(g.vcpu.run(), 'hlt');
  close(g);
});

test('hardware breakpoint (DR0 + DR7) stops at its address', () => {
  const g = guest([0x90, 0x90, 0x90, 0x90, 0x90, 0xf4]);
  g.vcpu.setGuestDebug({
    enable: true, hardwareBreakpoints: true,
    debugreg: [0x1003n, 0n, 0n, 0n, 0n, 0n, 0n, 0x401n], // DR7: L0, execute, 1 byte
  });
  const d = expectKind(g.vcpu.run(), 'debug');
  assert.equal(d.exception, 1);
  assert.equal(d.pc, 0x1003n);
  assert.equal(d.dr6 & 1n, 1n, 'DR6.B0');
  assert.equal(g.vcpu.getRegs().rip, 0x1003n);
  g.vcpu.setGuestDebug({ enable: false });
  expectKind(g.vcpu.run(), 'hlt');
  close(g);
});

test('in-kernel irqchip and PIT2; LAPIC round trip; irqLine', () => {
  const g = guest([0xf4], true);
  g.vm.createPit2(PitFlag.SPEAKER_DUMMY);
  g.vm.irqLine(4, true);
  g.vm.irqLine(4, false);
  const lapic = g.vcpu.getLapic();
  assert.equal(lapic.length, 1024);
  g.vcpu.setLapic(lapic);
  assert.throws(() => g.vm.createIrqchip(), (e: unknown) => e instanceof KvmError && e.ioctl === 'KVM_CREATE_IRQCHIP');
  close(g);
});

test('errors name the ioctl and the errno', () => {
  const g = guest([0xf4]);
  assert.throws(() => g.vm.createVcpu(0), (e: unknown) => {
    assert.ok(e instanceof KvmError);
    assert.equal(e.ioctl, 'KVM_CREATE_VCPU');
    assert.equal(e.code, 'EEXIST');
    assert.match(e.message, /^KVM_CREATE_VCPU failed: EEXIST \(File exists\)$/);
    return true;
  });
  assert.throws(() => g.vcpu.setMsrs([{ index: 0xdead_beef, value: 1n }]), /KVM_SET_MSRS set 0 of 1 MSRs: KVM refused MSR 0xdeadbeef/);
  assert.throws(
    () => g.vm.setUserMemoryRegion({ slot: 1, guestPhys: 0x100000, size: 4096, buffer: new SharedArrayBuffer(8192), offset: 1 }),
    /not page-aligned|multiples of 4096/,
  );
  close(g);
  assert.throws(() => g.vcpu.run(), (e: unknown) => e instanceof KvmError && /closed/.test(e.message));
  assert.equal(kick(g.vcpu.kickToken), false, 'close() removed the kick registry entry');
});

test('software breakpoint: int3 gives a #BP debug exit (expected to fail in the QEMU TCG sandbox)', (t) => {
  // int3; hlt at 0x1000. The real-mode IVT sends vector 3 to 0x2000: mov dx,0x12; out dx,al; hlt,
  // so a guest-handled #BP shows up as an OUT to port 0x12 instead of running away.
  const g = guest([0xcc, 0xf4]);
  g.ram.set([0x00, 0x20, 0x00, 0x00], 3 * 4);
  g.ram.set([0xba, 0x12, 0x00, 0xee, 0xf4], 0x2000);
  g.vcpu.setGuestDebug({ enable: true, softwareBreakpoints: true });
  const exit = g.vcpu.run();
  close(g);
  if (exit.kind !== 'debug') {
    t.todo('this host delivers int3 to the guest instead of exiting: QEMU TCG treats INT3 as INTn for SVM ' +
      'intercepts (shared/kvm-sandbox/README.md); use hardware breakpoints here');
  }
  const d = expectKind(exit, 'debug');
  assert.equal(d.exception, 3);
  assert.equal(d.pc, 0x1000n);
});

test('hot path: our own cost per PIO exit, outside KVM_RUN (diagnostic)', (t) => {
  // mov dx,0x80; L: out dx,al; jmp L
  const g = guest([0xba, 0x80, 0x00, 0xee, 0xeb, 0xfd]);
  const n = 20000;
  g.vcpu.setTiming(true, true);
  let outs = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const exit = g.vcpu.run();
    if (exit.kind === 'io' && exit.port === 0x80) outs++;
  }
  const total = Number(process.hrtime.bigint() - t0);
  const { runs, nsInKvmRun } = g.vcpu.runStats();
  close(g);
  assert.equal(outs, n);
  assert.equal(runs, n);
  const perExit = (ns: number) => `${(ns / n / 1000).toFixed(2)} µs`;
  t.diagnostic(`${n} PIO exits: ${perExit(total)} per exit, ${perExit(nsInKvmRun)} inside KVM_RUN, ` +
    `${perExit(total - nsInKvmRun)} ours (addon + decode + loop)`);
});

test('kick() from the main thread stops a `cli; jmp $` guest running in a worker', async () => {
  const native = join(__dirname, '..', '..', 'native', 'index.js');
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const n = require(workerData.native);
    const kvm = new n.Kvm(); const vm = kvm.createVm(); vm.setTssAddr(0xfffbd000);
    const buffer = new SharedArrayBuffer(0x10000 + 4096); const offset = n.pageAlignedOffset(buffer);
    vm.setUserMemoryRegion({ slot: 0, guestPhys: 0, size: 0x10000, buffer, offset });
    new Uint8Array(buffer, offset).set([0xfa, 0xeb, 0xfe], 0x1000);  // cli; jmp $
    const vcpu = vm.createVcpu(0);
    const s = vcpu.getSregs(); vcpu.setSregs({ cs: { ...s.cs, base: 0n, selector: 0 } });
    vcpu.setRegs({ rip: 0x1000n, rflags: 2n });
    vcpu.setTiming(true);
    parentPort.on('message', () => {
      vcpu.setTiming(true, true);
      const kind = vcpu.run().kind;
      parentPort.postMessage({ kind, ms: vcpu.runStats().nsInKvmRun / 1e6 });
    });
    parentPort.postMessage({ token: vcpu.kickToken });
  `, { eval: true, workerData: { native } });
  const messages: Array<{ token?: number; kind?: string; ms?: number }> = [];
  let wake: () => void = () => {};
  worker.on('message', (m) => { messages.push(m); wake(); });
  worker.on('error', (e) => { messages.push({ kind: `error: ${e.message}` }); wake(); });
  const next = async () => {
    while (messages.length === 0) await new Promise<void>((r) => { wake = r; });
    return messages.shift()!;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const { token } = await next();
    assert.equal(typeof token, 'number');

    // 1. Kick a guest that is spinning inside KVM_RUN.
    worker.postMessage('run');
    await sleep(1000);
    let t0 = Date.now();
    assert.equal(kick(token!), true);
    let r = await next();
    assert.equal(r.kind, 'interrupted');
    assert.ok(Date.now() - t0 < 5000, `run returned ${Date.now() - t0} ms after the kick`);
    assert.ok(r.ms! > 300, `the guest really ran (${r.ms} ms inside KVM_RUN)`);

    // 2. A kick before run(): the next run returns at once.
    assert.equal(kick(token!), true);
    worker.postMessage('run');
    r = await next();
    assert.equal(r.kind, 'interrupted');
    assert.ok(r.ms! < 1000, `pending kick honoured (${r.ms} ms inside KVM_RUN)`);

    // 3. No stale kick: the next run spins again until kicked.
    worker.postMessage('run');
    await sleep(700);
    t0 = Date.now();
    kick(token!);
    r = await next();
    assert.equal(r.kind, 'interrupted');
    assert.ok(r.ms! > 300, `ran again after a consumed kick (${r.ms} ms)`);
  } finally {
    await worker.terminate();
  }
  assert.equal(kick(0x7fff_fff0), false, 'a token of no vCPU');
});
