// KVM tier: the debug adapter as VS Code sees it. Each test spawns the real
// adapter process (node out/debug-adapter/main.js) and speaks DAP to it
// through @vscode/debugadapter-testsupport's DebugClient, on our test kernels.
// Breakpoints here are hardware (DR0-3) up to four; a fifth is an int3 only
// where the host probe found a working int3 trap (never inside the
// KVM sandbox, kvm-sandbox/README.md): test/kvm/dap-software-breakpoints.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, ROOT, hex, kernelPath, symbol, within } from './helpers/guests';
import { stopAdapter } from './helpers/dap-session';
import { ElfFile, PT_LOAD } from '../../vmm/boot/elf';

const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');
const MAIN_C = join(ROOT, 'test', 'guests', 'kernel', 'main.c');
const KERNEL = kernelPath('pvh64');
const T = BOOT_MS;

/** The 1-based line of main.c that contains `text` (after the line containing `after`, when given). */
function lineOf(text: string, after?: string): number {
  const lines = readFileSync(MAIN_C, 'utf8').split('\n');
  const from = after ? lines.findIndex((l) => l.includes(after)) : 0;
  const i = lines.findIndex((l, n) => n >= from && l.includes(text));
  if (i < 0) throw new Error(`main.c has no line with ${JSON.stringify(text)}`);
  return i + 1;
}

interface Session {
  dc: DebugClient;
  /** Everything the guest printed (category stdout). */
  stdout(): string;
  console(): string;
  pid: number;
}

async function start(): Promise<Session> {
  const dc = new DebugClient('node', ADAPTER, 'kvm', undefined, !!process.env.KVMDBG_DAP_STDERR);
  dc.defaultTimeout = T;
  await dc.start();
  let out = '';
  let con = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') out += e.body.output; else con += e.body.output;
  });
  const pid = (dc as unknown as { _adapterProcess: { pid: number } })._adapterProcess.pid;
  return { dc, stdout: () => out, console: () => con, pid };
}

/** initialize + launch, with `configure` run between 'initialized' and configurationDone. */
async function launch(s: Session, args: Record<string, unknown>, configure: () => Promise<unknown> = async () => {}): Promise<void> {
  await within(Promise.all([
    s.dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' }).then(() => s.dc.launchRequest({ kernel: KERNEL, memory: '64M', ...args } as DebugProtocol.LaunchRequestArguments)),
    s.dc.waitForEvent('initialized', T).then(configure).then(() => s.dc.configurationDoneRequest()),
  ]), T, 'launch');
}

async function stopped(s: Session, what: string): Promise<DebugProtocol.StoppedEvent> {
  return within(s.dc.waitForEvent('stopped', T), T, what) as Promise<DebugProtocol.StoppedEvent>;
}

async function stack(s: Session): Promise<DebugProtocol.StackFrame[]> {
  return (await s.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
}

/** All registers of one scope by name. */
async function registers(s: Session, scope: string): Promise<Map<string, DebugProtocol.Variable>> {
  const frame = (await stack(s))[0];
  const scopes = (await s.dc.scopesRequest({ frameId: frame.id })).body.scopes;
  const sc = scopes.find((x) => x.name === scope);
  assert.ok(sc, `scope ${scope} in ${scopes.map((x) => x.name).join(', ')}`);
  const vars = (await s.dc.variablesRequest({ variablesReference: sc.variablesReference })).body.variables;
  return new Map(vars.map((v) => [v.name, v]));
}

async function reg(s: Session, name: string): Promise<bigint> {
  const v = (await registers(s, 'General')).get(name) ?? (await registers(s, 'RIP / RFLAGS')).get(name);
  assert.ok(v, `register ${name}`);
  return BigInt(v.value.split(' ')[0]);
}

async function readMem(s: Session, ref: string, count: number): Promise<{ data: Buffer; unreadable: number; address: string }> {
  const r = await s.dc.customRequest('readMemory', { memoryReference: ref, count }) as unknown as DebugProtocol.ReadMemoryResponse;
  return { data: Buffer.from(r.body?.data ?? '', 'base64'), unreadable: r.body?.unreadableBytes ?? 0, address: r.body?.address ?? '' };
}

async function finish(s: Session): Promise<void> {
  await stopAdapter(s.dc);
}

test('stop on entry: one vCPU thread, registers, stack and disassembly at the entry point', async () => {
  const s = await start();
  try {
    const stop = stopped(s, 'stop on entry');
    await launch(s, { stopOnEntry: true, bogusKey: 1 });
    const ev = await stop;
    assert.equal(ev.body.reason, 'entry');
    const threads = (await s.dc.threadsRequest()).body.threads;
    assert.deepEqual(threads.map((t) => t.name), ['vCPU 0 (stopped)']);
    assert.match(s.console(), /unknown attribute "bogusKey"/, 'unknown launch keys are reported in the debug console');
    // PVH enters at pvh_start32 in 32-bit protected mode.
    const entry = BigInt(symbol('pvh64', 'pvh_start32'));
    const rip = await registers(s, 'RIP / RFLAGS');
    assert.equal(BigInt(rip.get('eip')!.value), entry, 'EIP is pvh_start32');
    assert.equal(rip.get('eip')!.memoryReference, `v:${hex(entry)}`);
    const control = await registers(s, 'Control');
    assert.match(control.get('cr0')!.value, /\[.*PE.*\]/, `CR0 decoded: ${control.get('cr0')!.value}`);
    const segs = await registers(s, 'Segments');
    assert.match(segs.get('cs')!.value, /32-bit/, `CS: ${segs.get('cs')!.value}`);
    // The MSRs scope (read when opened): the BSP's local APIC enabled at its default base.
    const msrs = await registers(s, 'MSRs');
    const apic = BigInt(msrs.get('APIC_BASE')!.value);
    assert.equal(apic & ~0xfffn, 0xfee0_0000n, `APIC_BASE ${apic.toString(16)}`);
    assert.equal(apic & 0x900n, 0x900n, 'BSP and enabled bits');
    assert.ok(msrs.has('LSTAR') && msrs.has('GS_BASE'), [...msrs.keys()].join(' '));
    const frames = await stack(s);
    assert.equal(frames[0].name, 'pvh_start32');
    assert.equal(frames[0].instructionPointerReference, `v:${hex(entry)}`);
    const dis = (await s.dc.disassembleRequest({ memoryReference: `v:${hex(entry)}`, instructionOffset: -3, instructionCount: 8 })).body!.instructions;
    assert.equal(dis.length, 8);
    assert.equal(dis[3].address, hex(entry), 'instruction 3 is the entry (3 before it were asked for)');
    assert.equal(dis[3].symbol, 'pvh_start32');
  } finally {
    await finish(s);
  }
});

test('source breakpoint in fib: stack, condition, step in / out / over, instruction step', async () => {
  const s = await start();
  try {
    const line = lineOf('return fib(n - 1) + fib(n - 2);');
    const stop = stopped(s, 'breakpoint in fib');
    let bps: DebugProtocol.Breakpoint[] = [];
    await launch(s, {}, async () => {
      bps = (await s.dc.setBreakpointsRequest({ source: { path: MAIN_C }, breakpoints: [{ line }] })).body.breakpoints;
    });
    assert.equal(bps[0].verified, true, bps[0].message);
    assert.equal(bps[0].line, line);
    const ev = await stop;
    assert.equal(ev.body.reason, 'breakpoint');
    let frames = await stack(s);
    assert.equal(frames[0].name, 'fib');
    assert.equal(frames[0].line, line);
    assert.equal(frames[0].source?.path, MAIN_C);
    assert.ok(frames.some((f) => f.name === 'kernel_main'), `kernel_main is a caller: ${frames.map((f) => f.name).join(' <- ')}`);
    assert.equal(await reg(s, 'rbx'), 20n, 'fib(20) first');

    // A condition: auto-continue until n == 3 (depth-first: 17 hits later).
    await s.dc.setBreakpointsRequest({ source: { path: MAIN_C }, breakpoints: [{ line, condition: 'rbx == 3' }] });
    const cond = stopped(s, 'conditional breakpoint');
    await s.dc.continueRequest({ threadId: 1 });
    await cond;
    assert.equal(await reg(s, 'rbx'), 3n);
    frames = await stack(s);
    const depth = frames.length;
    assert.equal(frames.filter((f) => f.name === 'fib').length, 18, `fib(20)..fib(3): ${frames.map((f) => f.name).join(' <- ')}`);
    // As VS Code asks: the top frame, then the rest; together they are the whole stack.
    const top = (await s.dc.stackTraceRequest({ threadId: 1, startFrame: 0, levels: 1 })).body;
    const rest = (await s.dc.stackTraceRequest({ threadId: 1, startFrame: 1, levels: 100 })).body;
    assert.equal(top.totalFrames, depth);
    assert.deepEqual([...top.stackFrames, ...rest.stackFrames].map((f) => `${f.id} ${f.name}:${f.line}`), frames.map((f) => `${f.id} ${f.name}:${f.line}`));
    // The call stack follows memory written at this stop: zero the stack above RSP, then put it back.
    const rsp = await reg(s, 'rsp');
    const saved = await readMem(s, `v:${hex(rsp)}`, 512);
    await s.dc.customRequest('writeMemory', { memoryReference: `v:${hex(rsp)}`, data: Buffer.alloc(512).toString('base64') });
    assert.ok((await stack(s)).length < 3, 'a zeroed stack ends the unwind at the first return address');
    await s.dc.customRequest('writeMemory', { memoryReference: `v:${hex(rsp)}`, data: saved.data.toString('base64') });
    assert.equal((await stack(s)).length, depth, 'the stack is whole again');
    await s.dc.setBreakpointsRequest({ source: { path: MAIN_C }, breakpoints: [] });

    // Step into fib(2).
    let step = stopped(s, 'step in');
    await s.dc.stepInRequest({ threadId: 1 });
    assert.equal((await step).body.reason, 'step');
    frames = await stack(s);
    assert.equal(frames[0].name, 'fib');
    assert.equal(frames[0].line, lineOf('{', 'uint32_t fib(uint32_t n)'), 'at fib\'s opening line');
    assert.equal(frames.length, depth + 1, 'one frame deeper');
    assert.equal(await reg(s, 'rdi') & 0xffffffffn, 2n, 'fib(2)');

    // Step out, back into fib(3) on the same line.
    step = stopped(s, 'step out');
    await s.dc.stepOutRequest({ threadId: 1 });
    await step;
    frames = await stack(s);
    assert.equal(frames.length, depth);
    assert.equal(frames[0].line, line);
    assert.equal(await reg(s, 'rbx'), 3n);

    // Step over the rest of the line (fib(1) is called and returns): the closing brace.
    step = stopped(s, 'step over');
    await s.dc.nextRequest({ threadId: 1 });
    await step;
    frames = await stack(s);
    assert.equal(frames[0].name, 'fib');
    assert.equal(frames[0].line, line + 1, 'the line after the return statement');
    assert.equal(frames.length, depth);

    // One instruction.
    const before = await reg(s, 'rip');
    step = stopped(s, 'instruction step');
    await s.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    await step;
    const dis = (await s.dc.disassembleRequest({ memoryReference: `v:${hex(before)}`, instructionCount: 1 })).body!.instructions[0];
    assert.equal(await reg(s, 'rip'), before + BigInt(dis.instructionBytes!.split(' ').length), `one instruction (${dis.instruction})`);
  } finally {
    await finish(s);
  }
});

test('function and instruction breakpoints: EAX at the end of step_sequence is 0x1234abcd; a fifth is an int3 only where the host delivers them', async () => {
  const s = await start();
  try {
    const console: string[] = [];
    s.dc.on('output', (e: DebugProtocol.OutputEvent) => console.push(e.body.output));
    const stop = stopped(s, 'function breakpoint on step_sequence');
    let bps: DebugProtocol.Breakpoint[] = [];
    await launch(s, {}, async () => {
      bps = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: ['step_sequence', 'spin_forever', 'count_ticks', 'machine_finish', 'serial_getc'].map((name) => ({ name })) })).body.breakpoints;
    });
    const int3 = console.join('').includes('software breakpoints are available beyond the 4 hardware ones');
    assert.deepEqual(bps.map((b) => b.verified), [true, true, true, true, int3], `the probe said: ${console.join('')}`);
    if (!int3) assert.match(bps[4].message ?? '', /all 4 hardware debug registers/);
    assert.equal((await stop).body.reason, 'function breakpoint');
    const start = BigInt(symbol('pvh64', 'step_sequence'));
    assert.equal(await reg(s, 'rip'), start);
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    // Find step_sequence's ret in the disassembly and stop there.
    const dis = (await s.dc.disassembleRequest({ memoryReference: `v:${hex(start)}`, instructionCount: 30 })).body!.instructions;
    const ret = dis.find((i) => /^ret/.test(i.instruction));
    assert.ok(ret, dis.map((i) => i.instruction).join('\n'));
    const ib = await s.dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `v:${ret.address}` }] }) as DebugProtocol.SetInstructionBreakpointsResponse;
    assert.equal(ib.body.breakpoints[0].verified, true);
    const at = stopped(s, 'instruction breakpoint at ret');
    await s.dc.continueRequest({ threadId: 1 });
    assert.equal((await at).body.reason, 'instruction breakpoint');
    assert.equal(await reg(s, 'rip'), BigInt(ret.address));
    assert.equal(await reg(s, 'rax'), 0x1234abcdn);
    assert.equal(await reg(s, 'r9'), 0x1234abcdn + 0x10n);
  } finally {
    await finish(s);
  }
});

test('readMemory of result_value after compute_checksum; unmapped memory is unreadable, not an error', async () => {
  const s = await start();
  try {
    const stop = stopped(s, 'function breakpoint on port_io_test');
    await launch(s, {}, () => s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'port_io_test' }] }));
    await stop;
    const addr = symbol('pvh64', 'result_value');
    const r = await readMem(s, `v:${hex(addr)}`, 4);
    assert.equal(r.data.readUInt32LE(0).toString(16), 'a7ecfaa9');
    const p = await readMem(s, `p:${hex(addr)}`, 4);
    assert.deepEqual([...p.data], [...r.data], 'physical == virtual in the test kernel');
    // The kernel has DWARF: a C variable's value (volatile uint32_t), and C's comparisons.
    const ev = await s.dc.evaluateRequest({ expression: 'result_value', context: 'hover' });
    assert.equal(ev.body.result, String(0xa7ecfaa9));
    assert.equal(ev.body.type, 'volatile uint32_t');
    assert.equal(ev.body.memoryReference, `v:${hex(addr)}`);
    const cond = await s.dc.evaluateRequest({ expression: `*(u32*)${hex(addr)} == 0xa7ecfaa9`, context: 'repl' });
    assert.equal(cond.body.result, '1');
    const hexOn = await s.dc.customRequest('kvm/displayFormat', { hex: true });
    assert.ok(hexOn.success);
    assert.equal((await s.dc.evaluateRequest({ expression: 'result_value', context: 'hover' })).body.result, '0xa7ecfaa9');
    // A big read (its answer goes out as raw protocol bytes): 1 MiB from the kernel's start holds its
    // code as the ELF file has it, byte for byte (not its read-only data: the CPU sets the GDT's accessed bits).
    const elf = new ElfFile(kernelPath('pvh64'), readFileSync(kernelPath('pvh64')));
    const loads = elf.programHeaders.filter((h) => h.type === PT_LOAD && (h.flags & 1) !== 0);
    const base = loads[0].vaddr;
    const big = await readMem(s, `v:${hex(base)}`, 1 << 20);
    assert.deepEqual([big.data.length, big.unreadable], [1 << 20, 0]);
    for (const h of loads) {
      const at = Number(h.vaddr - base);
      assert.ok(big.data.subarray(at, at + h.filesz).equals(elf.segmentData(h)), `the segment at ${hex(h.vaddr)} as in the file`);
    }
    const straddle = await readMem(s, `p:${hex((64n << 20n) - 4096n)}`, 8192); // the last RAM page, then past the end of RAM
    assert.deepEqual([straddle.data.length, straddle.unreadable], [4096, 4096]);
    // Above the identity map (4 GiB): unmapped.
    const far = await readMem(s, 'v:0x7fff00000000', 256);
    assert.deepEqual([far.data.length, far.unreadable], [0, 256]);
  } finally {
    await finish(s);
  }
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('writeMemory: patching checksum_data before compute_checksum changes what the guest prints', async () => {
  const s = await start();
  try {
    const stop = stopped(s, 'stop on entry');
    await launch(s, { stopOnEntry: true });
    await stop;
    const patched = Buffer.from('KVMDBG');
    const w = await s.dc.customRequest('writeMemory', { memoryReference: `v:${hex(symbol('pvh64', 'checksum_data'))}`, data: patched.toString('base64') }) as unknown as DebugProtocol.WriteMemoryResponse;
    assert.equal(w.body?.bytesWritten, 6);
    const terminated = within(s.dc.waitForEvent('terminated', T), T, 'the guest to finish');
    await s.dc.continueRequest({ threadId: 1 });
    await terminated;
    const want = `checksum = 0x${crc32(patched).toString(16).padStart(8, '0')}\n`;
    assert.ok(s.stdout().includes(want), `expected ${JSON.stringify(want)} in ${JSON.stringify(s.stdout())}`);
  } finally {
    await finish(s);
  }
});

test('data breakpoint on tick_counter (cmdline count) stops on a write', async () => {
  const s = await start();
  try {
    const stop = stopped(s, 'data breakpoint');
    let info: DebugProtocol.DataBreakpointInfoResponse | undefined;
    await launch(s, { cmdline: 'count' }, async () => {
      info = await s.dc.dataBreakpointInfoRequest({ name: 'tick_counter' });
      const set = await s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
      assert.equal(set.body.breakpoints[0].verified, true, set.body.breakpoints[0].message);
    });
    assert.equal(info!.body.dataId, `${hex(symbol('pvh64', 'tick_counter'))}/8`);
    assert.equal((await stop).body.reason, 'data breakpoint');
    // The boot code clears .bss (tick_counter included) first: that is a write too.
    const seen: string[] = [];
    for (let frames = await stack(s); frames[0].name !== 'count_ticks'; frames = await stack(s)) {
      seen.push(frames[0].name);
      assert.ok(seen.length < 4, `stops outside count_ticks: ${seen.join(', ')}`);
      const next = stopped(s, 'the next write');
      await s.dc.continueRequest({ threadId: 1 });
      assert.equal((await next).body.reason, 'data breakpoint');
    }
    const v = await readMem(s, `v:${hex(symbol('pvh64', 'tick_counter'))}`, 8);
    assert.equal(v.data.readBigUInt64LE(0), 1n, 'the first increment has happened');
    const again = stopped(s, 'second write');
    await s.dc.continueRequest({ threadId: 1 });
    await again;
    assert.equal((await readMem(s, `v:${hex(symbol('pvh64', 'tick_counter'))}`, 8)).data.readBigUInt64LE(0), 2n);
  } finally {
    await finish(s);
  }
});

test('data breakpoints on five variables and a 64-byte struct at once: each write stops in order with its new value (page protection where DRs never fire)', async () => {
  const s = await start();
  try {
    const names = ['watch_a', 'watch_b', 'watch_c', 'watch_d', 'watch_e', 'watch_block'];
    let set: DebugProtocol.SetDataBreakpointsResponse | undefined;
    let infos: DebugProtocol.DataBreakpointInfoResponse[] = [];
    await launch(s, { cmdline: 'watch' }, async () => {
      infos = await Promise.all(names.map((name) => s.dc.dataBreakpointInfoRequest({ name })));
      set = await s.dc.setDataBreakpointsRequest({ breakpoints: infos.map((i) => ({ dataId: i.body.dataId!, accessType: 'write' })) });
    });
    assert.equal(infos[5].body.dataId, `${hex(symbol('pvh64', 'watch_block'))}/64`, 'the whole struct is watched');
    assert.deepEqual(set!.body.breakpoints.map((b) => b.verified), Array(6).fill(true), set!.body.breakpoints.map((b) => b.message).join('; '));
    // The boot code clears .bss (the variables with it) first: those are writes too; then watch_writes() runs.
    for (let seen = 0; ; seen++) {
      const stop = stopped(s, 'a data breakpoint');
      await s.dc.continueRequest({ threadId: 1 });
      assert.equal((await stop).body.reason, 'data breakpoint');
      if ((await stack(s))[0].name === 'watch_writes') break;
      assert.ok(seen < 400, 'stops before watch_writes');
    }
    const word = async (name: string, offset = 0, size = 4) => {
      const m = await readMem(s, `v:${hex(symbol('pvh64', name) + offset)}`, size);
      return size === 8 ? Number(m.data.readBigUInt64LE(0)) : m.data.readUInt32LE(0);
    };
    assert.equal(await word('watch_a'), 1, 'the first stop in watch_writes is after watch_a = 1');
    const expected: [string, number, number, number][] = [['watch_b', 0, 4, 2], ['watch_c', 0, 4, 3], ['watch_d', 0, 4, 4], ['watch_e', 0, 4, 5], ['watch_block', 56, 8, 0x77], ['watch_block', 0, 8, 0x11]];
    for (const [name, offset, size, value] of expected) {
      const next = stopped(s, `the write of ${name}`);
      await s.dc.continueRequest({ threadId: 1 });
      assert.equal((await next).body.reason, 'data breakpoint');
      assert.equal((await stack(s))[0].name, 'watch_writes');
      assert.equal(await word(name, offset, size), value, `${name}+${offset} after its write`);
    }
    const done = within(s.dc.waitForEvent('terminated', T), T, 'the guest finishing');
    await s.dc.continueRequest({ threadId: 1 });
    await done;
    assert.match(s.stdout(), /watch = 1 2 3 4 5 0x88\n/);
  } finally {
    await finish(s);
  }
});

test('VM-exit breakpoint on port 0x3f8 stops before the first character reaches the console', async () => {
  const s = await start();
  try {
    const first = stopped(s, 'first OUT to 0x3f8');
    await launch(s, {}, () => s.dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'pio', condition: 'out 0x3f8' }] }));
    // serial_init writes the divisor latch (DLAB=1) through 0x3f8 first: that is an OUT to 0x3f8 too.
    let ev = await first;
    assert.equal(ev.body.reason, 'exception');
    assert.equal(ev.body.text, 'OUT 0x3f8 <- 0x1');
    const second = stopped(s, 'the first character');
    await s.dc.continueRequest({ threadId: 1 });
    ev = await second;
    assert.equal(ev.body.text, "OUT 0x3f8 <- 0x6b 'k'");
    assert.equal(s.stdout(), '', 'nothing printed yet');
    const info = await s.dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, 'pio');
    assert.match(info.body.details?.message ?? '', /port: 0x3f8/);
    assert.match(info.body.details?.message ?? '', /data: 6b/);
  } finally {
    await finish(s);
  }
});

test('pause a running guest that spins with interrupts off', async () => {
  const s = await start();
  try {
    await launch(s, { cmdline: 'spin' });
    await within((async () => { while (!s.stdout().includes('spinning')) await new Promise((r) => setTimeout(r, 100)); })(), T, 'the guest to print "spinning"');
    const threads = (await s.dc.threadsRequest()).body.threads;
    assert.equal(threads[0].name, 'vCPU 0 (running)');
    const stop = stopped(s, 'pause');
    await s.dc.pauseRequest({ threadId: 1 });
    assert.equal((await stop).body.reason, 'pause');
    const frames = await stack(s);
    assert.match(frames[0].name, /spin/, `stopped in the spin loop: ${frames[0].name}`);
  } finally {
    await finish(s);
  }
});

test('kvm/ requests and events: console bytes, state, exit stats, page walk, devices, descriptor tables, console input', async () => {
  const s = await start();
  const consoleEvents: Buffer[] = [];
  const states: { state: string; vcpus: number; exitsPerSecond?: number }[] = [];
  s.dc.on('kvm/console', (e: DebugProtocol.Event) => consoleEvents.push(Buffer.from(e.body.data, 'base64')));
  s.dc.on('kvm/state', (e: DebugProtocol.Event) => states.push(e.body));
  const kvm = async (command: string, args: Record<string, unknown> = {}): Promise<any> => (await s.dc.customRequest(command, args)).body;
  try {
    const entry = stopped(s, 'stop on entry');
    await launch(s, { stopOnEntry: true, cmdline: 'spin' });
    await entry;
    assert.deepEqual(states.map((x) => x.state), ['starting', 'paused']);
    assert.equal(states[1].vcpus, 1);
    // At the entry the loader's GDT is loaded (vmm/boot/cpu.ts): code64 at 0x08, code32 at 0x10, in 32-bit mode.
    let tables = await kvm('kvm/descriptorTables', { threadId: 1 });
    assert.match(tables.gdt.entries[2].decoded, /^code32 DPL0 P/, JSON.stringify(tables.gdt.entries));

    await s.dc.continueRequest({ threadId: 1 });
    await within((async () => { while (!s.stdout().includes('spinning')) await new Promise((r) => setTimeout(r, 100)); })(), T, 'the guest to print "spinning"');
    assert.equal(states.at(-1)?.state, 'running');
    await assert.rejects(kvm('kvm/pageWalk', { address: '0x1000' }), /pause the VM to walk its page tables/);
    const stop = stopped(s, 'pause');
    await s.dc.pauseRequest({ threadId: 1 });
    await stop;
    assert.equal(states.at(-1)?.state, 'paused');

    // Console bytes arrive as kvm/console, batched (not one event a byte), and the output events stay.
    const text = Buffer.concat(consoleEvents).toString('utf8');
    assert.match(text, /kvmdbg test kernel pvh64/);
    assert.match(text, /spinning/);
    assert.ok(consoleEvents.length < text.length / 4, `${consoleEvents.length} kvm/console events for ${text.length} bytes`);
    assert.equal(s.stdout(), text, 'the debug console mirror has the same text');

    const stats = await kvm('kvm/exitStats', { last: 10 });
    const io = stats.byKind.find((k: { kind: string }) => k.kind === 'io');
    assert.ok(io && io.count > text.length, `io exits: ${JSON.stringify(stats.byKind)}`);
    assert.ok(stats.total >= io.count);
    assert.ok(stats.elapsedMs > 0);
    assert.equal(stats.recent.length, 10);
    assert.ok(stats.recent.every((e: { kind: string; detail: string }) => e.kind && e.detail), JSON.stringify(stats.recent));

    const rip = await reg(s, 'rip');
    const walk = await kvm('kvm/pageWalk', { address: hex(rip), threadId: 1 });
    assert.equal(walk.mode, '4-level');
    assert.deepEqual(walk.levels.map((l: { name: string }) => l.name), ['PML4', 'PDPT', 'PD'], 'the test kernel maps 2 MiB pages');
    assert.ok(walk.levels.every((l: { present: boolean; flags: string[] }) => l.present && l.flags.includes('P')));
    assert.equal(walk.pageSize, 2 << 20);
    assert.equal(BigInt(walk.physical), rip, 'identity mapped');
    const unmapped = await kvm('kvm/pageWalk', { address: '0x7fff00000000' });
    assert.equal(unmapped.physical, undefined);
    assert.match(unmapped.fault, /not present/);

    const devices = (await kvm('kvm/devices')).devices as { name: string; description: string; details?: [string, string][] }[];
    const uart = devices.find((d) => d.name === 'uart0');
    assert.ok(uart, `devices: ${devices.map((d) => d.name).join(', ')}`);
    assert.match(uart.description, /16550A at 0x3f8, IRQ 4/);
    assert.ok(uart.details?.some(([k]) => k === 'LCR'));
    const host = devices.find((d) => d.name === 'pci 00:00.0');
    assert.deepEqual(host?.details?.find(([k]) => k === 'vendor:device'), ['vendor:device', '0x8086:0x29c0']);
    assert.ok(devices.some((d) => /^virtio-rng/.test(d.name)));

    // The guest's own GDT now (test/guests/boot/entry64.S): 64-bit code at 0x08, data at 0x10; no IDT.
    tables = await kvm('kvm/descriptorTables');
    assert.match(tables.gdt.entries[1].decoded, /^code64 DPL0 P/, JSON.stringify(tables.gdt.entries));
    assert.match(tables.gdt.entries[2].decoded, /^data32 DPL0 P/);
    assert.equal(tables.idt.entries.length, 0);

    assert.equal((await s.dc.customRequest('kvm/consoleInput', { data: 'x' })).success, true);
    await assert.rejects(kvm('kvm/pageWalk', { address: 'rip' }), /hex \(0x\.\.\.\) or decimal/);
  } finally {
    await finish(s);
  }
});

test('disconnect ends the VM and the adapter process exits', async () => {
  const s = await start();
  const proc = (s.dc as unknown as { _adapterProcess: import('node:child_process').ChildProcess })._adapterProcess;
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  try {
    await launch(s, { cmdline: 'spin' });
    let answered = false;
    const response = s.dc.disconnectRequest({ terminateDebuggee: true }).then(() => { answered = true; });
    const code = await within(exited, 30_000, 'the adapter to exit after disconnect');
    await Promise.race([response, new Promise((r) => setTimeout(r, 100))]);
    assert.ok(answered, 'the disconnect request was answered before the adapter exited');
    assert.equal(code, 0);
    assert.throws(() => process.kill(s.pid, 0), /ESRCH/, 'no adapter process is left');
  } finally {
    // DebugClient.stop() would send another disconnect, which a gone adapter never answers.
    (s.dc as unknown as { stopAdapter(): void }).stopAdapter();
  }
});
