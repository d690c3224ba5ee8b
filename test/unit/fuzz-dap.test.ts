/**
 * DAP protocol fuzzer: the real adapter process (out/debug-adapter/main.js)
 * fed random requests with hostile arguments (wrong types, missing fields,
 * unknown thread ids and references, huge counts, bad memoryReferences),
 * launches with bad arguments, and garbage framing (bad Content-Length
 * headers, truncated and invalid JSON). No VM is ever launched: every launch
 * names a kernel that is missing or not a kernel, so no KVM is needed.
 *
 * Every request must get exactly one response (success or error) within a
 * bounded time, the adapter must stay alive to the end, and its stderr must
 * hold no uncaught exception or unhandled rejection.
 * Budget: KVMDBG_FUZZ_ROUNDS / KVMDBG_FUZZ_SEED (test/unit/helpers/fuzz-budget.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fuzzRounds, fuzzSeed, rng } from './helpers/fuzz-budget';

const ROOT = join(__dirname, '..', '..', '..');
const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');
const RESPONSE_MS = 10_000;

interface Msg { type: string; seq: number; request_seq?: number; command?: string; success?: boolean; message?: string; event?: string; body?: unknown }

class Adapter {
  readonly proc: ChildProcess;
  stderr = '';
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  private raw = Buffer.alloc(0);
  private seq = 1;
  private readonly waiting = new Map<number, { command: string; resolve: (m: Msg) => void }>();
  readonly responses = new Map<number, number>();
  readonly events: Msg[] = [];

  constructor() {
    this.proc = spawn(process.execPath, [ADAPTER], { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
    this.proc.stdout!.on('data', (d: Buffer) => this.onData(d));
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.proc.stdin!.on('error', () => undefined);
    this.proc.on('exit', (code, signal) => { this.exited = { code, signal }; });
  }

  private onData(d: Buffer): void {
    this.raw = Buffer.concat([this.raw, d]);
    for (;;) {
      const h = this.raw.indexOf('\r\n\r\n');
      if (h < 0) return;
      const m = /Content-Length: (\d+)/.exec(this.raw.subarray(0, h).toString());
      assert.ok(m, `adapter wrote a frame without Content-Length: ${this.raw.subarray(0, h)}`);
      const len = Number(m[1]);
      if (this.raw.length < h + 4 + len) return;
      const msg = JSON.parse(this.raw.subarray(h + 4, h + 4 + len).toString()) as Msg;
      this.raw = this.raw.subarray(h + 4 + len);
      if (msg.type === 'response') {
        const rs = msg.request_seq as number;
        this.responses.set(rs, (this.responses.get(rs) ?? 0) + 1);
        // Garbage requests may reuse our seq numbers: a response is ours only if the command matches too.
        const w = this.waiting.get(rs);
        if (w && w.command === msg.command) {
          this.waiting.delete(rs);
          w.resolve(msg);
        }
      } else if (msg.type === 'event') this.events.push(msg);
    }
  }

  writeRaw(bytes: string | Buffer): void { this.proc.stdin!.write(bytes); }

  frame(body: string): string { return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`; }

  /** Sends a request and waits for its response (fails on a timeout or the adapter's death). */
  request(command: unknown, args?: unknown, extra: Record<string, unknown> = {}): Promise<Msg> {
    const seq = this.seq++;
    const msg: Record<string, unknown> = { seq, type: 'request', command, ...extra };
    if (args !== undefined) msg.arguments = args;
    return this.send(seq, JSON.stringify(msg), command as string);
  }

  send(seq: number, json: string, what: string): Promise<Msg> {
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(seq); reject(new Error(`no response to ${what} (seq ${seq}) in ${RESPONSE_MS} ms: ${json.slice(0, 300)}\nstderr: ${this.stderr}`)); }, RESPONSE_MS);
      const onExit = (): void => { clearTimeout(timer); reject(new Error(`the adapter died (${JSON.stringify(this.exited)}) on ${what}: ${json.slice(0, 300)}\nstderr: ${this.stderr}`)); };
      this.proc.once('exit', onExit);
      this.waiting.set(seq, { command: what, resolve: (m) => { clearTimeout(timer); this.proc.off('exit', onExit); resolve(m); } });
      this.writeRaw(this.frame(json));
    });
  }

  nextSeq(): number { return this.seq++; }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await this.request('disconnect', {}).catch(() => undefined);
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}

const COMMANDS = [
  'initialize', 'configurationDone', 'launch', 'attach', 'continue', 'pause', 'next', 'stepIn', 'stepOut', 'stepBack',
  'reverseContinue', 'restartFrame', 'goto', 'threads', 'stackTrace', 'scopes', 'variables', 'setVariable', 'setExpression',
  'evaluate', 'readMemory', 'writeMemory', 'disassemble', 'setBreakpoints', 'setFunctionBreakpoints',
  'setInstructionBreakpoints', 'dataBreakpointInfo', 'setDataBreakpoints', 'setExceptionBreakpoints', 'exceptionInfo',
  'source', 'loadedSources', 'modules', 'completions', 'gotoTargets', 'stepInTargets', 'breakpointLocations', 'terminate',
  'terminateThreads', 'cancel', 'restart', 'kvm/consoleInput', 'kvm/exitStats', 'kvm/pageWalk', 'kvm/devices',
  'kvm/descriptorTables', 'kvm/screen', 'kvm/keyboard', 'nonsense', '', 'constructor', '__proto__', 'toString',
];

/** The fields each request is known to read (and a few it does not). */
const FIELDS: Record<string, string[]> = {
  launch: ['kernel', 'symbols', 'initrd', 'cmdline', 'memory', 'cpus', 'stopOnEntry', 'exitBreakpoints', 'noDebug', '__restart'],
  readMemory: ['memoryReference', 'offset', 'count'],
  writeMemory: ['memoryReference', 'offset', 'data', 'allowPartial'],
  disassemble: ['memoryReference', 'offset', 'instructionOffset', 'instructionCount', 'resolveSymbols'],
  stackTrace: ['threadId', 'startFrame', 'levels', 'format'],
  scopes: ['frameId'],
  variables: ['variablesReference', 'filter', 'start', 'count', 'format'],
  setVariable: ['variablesReference', 'name', 'value', 'format'],
  evaluate: ['expression', 'frameId', 'context', 'format'],
  setBreakpoints: ['source', 'breakpoints', 'lines', 'sourceModified'],
  setFunctionBreakpoints: ['breakpoints'],
  setInstructionBreakpoints: ['breakpoints'],
  dataBreakpointInfo: ['variablesReference', 'name', 'frameId', 'asAddress', 'bytes'],
  setDataBreakpoints: ['breakpoints'],
  setExceptionBreakpoints: ['filters', 'filterOptions', 'exceptionOptions'],
  next: ['threadId', 'granularity', 'singleThread'],
  stepIn: ['threadId', 'granularity', 'targetId'],
  stepOut: ['threadId', 'granularity'],
  continue: ['threadId', 'singleThread'],
  pause: ['threadId'],
  initialize: ['adapterID', 'linesStartAt1', 'columnsStartAt1', 'pathFormat', 'supportsMemoryReferences'],
  'kvm/consoleInput': ['text', 'data'],
  'kvm/pageWalk': ['address', 'memoryReference', 'threadId'],
  'kvm/descriptorTables': ['threadId'],
  'kvm/screen': ['watch', 'maxFps'],
  'kvm/keyboard': ['keys', 'text'],
  source: ['source', 'sourceReference'],
  completions: ['text', 'column', 'frameId'],
};

// Paths that exist but are not kernels, or do not exist: a launch must never boot anything.
const NOT_KERNELS = ['package.json', 'README.md', '/nonexistent/kernel.elf', 'test', '/dev/null', '', '.', 'out/debug-adapter/main.js'];

function generator(rand: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const str = (): string => {
    const alphabet = 'vp:0x123456789abcdefXZ-+ ,.;*/()\u0000\u00ff\ud83d\ude00';
    let s = '';
    for (let i = Math.floor(rand() * 24); i > 0; i--) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  const scalars = (): unknown => pick<() => unknown>([
    () => null, () => true, () => false, () => 0, () => -1, () => 1, () => 2 ** 31, () => 2 ** 32, () => 2 ** 53,
    () => -(2 ** 63), () => 1e308, () => -1e-308, () => 0.5, () => 4294967295, () => Math.floor(rand() * 1e6),
    () => '', () => str(), () => 'v:0xffffffffffffffff', () => 'p:0xffffffffffffff00', () => '0x' + 'f'.repeat(40),
    () => 'p:0x0', () => 'v:0x100000', () => '0x1000', () => '-1', () => 'NaN', () => 'p:', () => 'q:0x10', () => '1e9',
    () => 'rip', () => 'rax + 1', () => '(((((((', () => '*'.repeat(500), () => 'a'.repeat(70000),
    () => 'instruction', () => 'line', () => 'pio', () => 'mmio', () => 'shutdown', () => '0x3f8-0x3ff',
    () => '0-0xffffffffffffffff', () => 'AAAA', () => '////', () => pick(NOT_KERNELS),
  ])();
  const value = (depth = 0): unknown => {
    const r = rand();
    if (r < 0.6 || depth > 2) return scalars();
    if (r < 0.75) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    if (r < 0.8) return Array.from({ length: 2000 }, () => ({ line: 1, instructionReference: '0x1000', dataId: 'x', name: 'f' }));
    const o: Record<string, unknown> = {};
    for (const k of pick([['path', 'name', 'sourceReference'], ['line', 'condition', 'hitCondition'], ['instructionReference', 'offset'],
      ['dataId', 'accessType'], ['filterId', 'condition'], ['name'], ['hex'], ['pio', 'mmio', 'shutdown']])) if (rand() < 0.7) o[k] = value(depth + 1);
    return o;
  };
  const args = (command: string): unknown => {
    const r = rand();
    if (r < 0.08) return undefined;
    if (r < 0.14) return scalars();
    if (r < 0.18) return [value()];
    const o: Record<string, unknown> = {};
    for (const f of (Object.hasOwn(FIELDS, command) ? FIELDS[command] : ['threadId', 'frameId', 'name', 'value'])) if (rand() < 0.7) o[f] = value();
    if (command === 'launch' && typeof o.kernel === 'string' && !NOT_KERNELS.includes(o.kernel)) o.kernel = pick(NOT_KERNELS);
    if (command === 'launch' && rand() < 0.3) o.kernel = pick(NOT_KERNELS);
    return o;
  };
  return { pick, str, value, args, scalars };
}

function noCrashTrace(stderr: string): void {
  assert.doesNotMatch(stderr, /Uncaught|UnhandledPromiseRejection|unhandled rejection|TypeError|RangeError|ReferenceError|SyntaxError|^\s+at /m,
    `adapter stderr shows an uncaught exception:\n${stderr.slice(0, 4000)}`);
}

test('random requests with hostile arguments, before and after failed launches: one response each, the adapter lives', { timeout: 600_000 }, async () => {
  const rand = rng(fuzzSeed(0xda9f, 1));
  const g = generator(rand);
  const rounds = fuzzRounds(1500);
  const a = new Adapter();
  try {
    const init = await a.request('initialize', { adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    assert.equal(init.success, true);
    let ok = 0;
    let failed = 0;
    const thrown = new Map<string, number>();
    const outstanding: Promise<Msg>[] = [];
    for (let i = 0; i < rounds; i++) {
      const command = rand() < 0.15 ? g.pick(['launch', 'readMemory', 'setExceptionBreakpoints', 'setVariable', 'disassemble']) : g.pick(COMMANDS);
      const p = a.request(command, g.args(command)).then((m) => {
        assert.equal(m.command, command, `response names the request's command: ${JSON.stringify(m).slice(0, 200)}`);
        if (m.success) ok++; else failed++;
        // Error responses that carry a JavaScript exception: the guard in session.ts caught a handler bug.
        if (!m.success && /Cannot read|is not a function|is not iterable|Cannot convert|Invalid array length|call stack|toLowerCase|trim/.test(m.message ?? '')) {
          const site = `${command}: ${(m.message ?? '').replace(/^[^:]*: /, '').replace(/\d+/g, 'N').slice(0, 80)}`;
          thrown.set(site, (thrown.get(site) ?? 0) + 1);
        }
        return m;
      });
      outstanding.push(p);
      // Mostly one at a time; now and then a burst of requests in flight together.
      if (rand() < 0.8 || outstanding.length > 16) await Promise.all(outstanding.splice(0));
    }
    await Promise.all(outstanding);
    // Still answering the ordinary way.
    const th = await a.request('threads');
    assert.equal(th.success, true);
    console.log(`DAP fuzz: ${rounds} requests: ${ok} succeeded, ${failed} error responses; adapter alive`);
    console.log(`DAP fuzz: handler exceptions answered by the guard (${thrown.size} sites): ${JSON.stringify([...thrown])}`);
    assert.ok(failed > rounds / 4 && ok > rounds / 20, `both outcomes common: ok ${ok}, failed ${failed}`);
    for (const [seq, n] of a.responses) assert.equal(n, 1, `request ${seq} got ${n} responses`);
    assert.equal(a.exited, undefined);
    noCrashTrace(a.stderr);
  } finally {
    await a.close();
  }
});

test('garbage framing: bad Content-Length headers, truncated and invalid JSON; the session goes on', { timeout: 600_000 }, async () => {
  const rand = rng(fuzzSeed(0xf4a3, 2));
  const g = generator(rand);
  const rounds = fuzzRounds(400);
  const a = new Adapter();
  try {
    await a.request('initialize', { adapterID: 'kvm', pathFormat: 'path' });
    for (let i = 0; i < rounds; i++) {
      const kind = Math.floor(rand() * 12);
      const good = JSON.stringify({ seq: 999999, type: 'request', command: 'threads' });
      switch (kind) {
        case 0: a.writeRaw('Content-Length: abc\r\n\r\n'); break;
        case 1: a.writeRaw('Content-Length: -5\r\n\r\n'); break;
        case 2: a.writeRaw('Content-Length: 0\r\n\r\n'); break;
        case 3: a.writeRaw('X-Nonsense: 1\r\nContent-Type: x\r\n\r\n'); break;
        case 4: a.writeRaw(a.frame('{"seq": 1, "type": "request", "command": ')); break; // truncated JSON, honest length
        case 5: a.writeRaw(a.frame(g.str() || '}')); break; // not JSON at all
        case 6: a.writeRaw(a.frame(JSON.stringify(g.value()))); break; // JSON, not a message
        case 7: a.writeRaw(a.frame('null')); break;
        case 8: a.writeRaw(a.frame(JSON.stringify({ type: 'request', seq: g.scalars(), command: g.scalars(), arguments: g.value() }))); break;
        case 9: a.writeRaw(a.frame(JSON.stringify({ type: g.pick(['response', 'event', 'request', 'x']), seq: 5, request_seq: 1, success: true, event: 'x' }))); break;
        case 10: { // a frame whose Content-Length overstates, then the missing bytes as spaces
          const body = good.slice(0, Math.floor(rand() * good.length));
          const missing = good.length - body.length;
          a.writeRaw(`Content-Length: ${good.length}\r\n\r\n${body}`);
          a.writeRaw(' '.repeat(missing));
          break;
        }
        default: { // a valid message split into random chunks
          const bytes = Buffer.from(a.frame(JSON.stringify({ seq: a.nextSeq(), type: 'request', command: 'threads' })));
          for (let at = 0; at < bytes.length;) { const n = 1 + Math.floor(rand() * 8); a.writeRaw(bytes.subarray(at, at + n)); at += n; }
        }
      }
      if (i % 10 === 9) {
        const r = await a.request('threads');
        assert.equal(r.success, true, `threads after garbage round ${i}: ${JSON.stringify(r)}`);
      }
    }
    const r = await a.request('evaluate', { expression: '1+1' });
    assert.equal(r.command, 'evaluate');
    console.log(`DAP framing fuzz: ${rounds} garbage frames; adapter alive and answering`);
    assert.equal(a.exited, undefined);
    noCrashTrace(a.stderr);
  } finally {
    await a.close();
  }
});

test('regressions: each of these once killed the adapter or went unanswered', { timeout: 120_000 }, async () => {
  const a = new Adapter();
  try {
    const cases: [string, unknown][] = [
      ['setExceptionBreakpoints', undefined], ['setExceptionBreakpoints', { filters: 'pio' }], ['setExceptionBreakpoints', { filterOptions: 5 }],
      ['setExceptionBreakpoints', { filters: [null, 5], filterOptions: [null, { filterId: 'pio', condition: 7 }] }],
      ['setVariable', undefined], ['setVariable', null], ['launch', undefined], ['launch', 5],
      ['launch', { kernel: 'package.json', symbols: 'README.md', memory: '16M' }],
      ['readMemory', { memoryReference: 'p:0x0', count: 2 ** 40 }], ['readMemory', { memoryReference: 5, count: 'x' }],
      ['readMemory', { memoryReference: 'v:0x' + 'f'.repeat(40), count: 1 }],
      ['disassemble', { memoryReference: 'p:0x0', instructionCount: 1e9 }],
      ['setBreakpoints', {}], ['setFunctionBreakpoints', { breakpoints: [{ name: 5 }] }], ['stackTrace', { threadId: 99 }],
      ['evaluate', { expression: 5 }], ['dataBreakpointInfo', { name: null }], ['continue', { threadId: 'x' }], ['next', undefined],
      ['kvm/pageWalk', { address: 'x' }],
      ['setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x1000', condition: [-1] }] }],
      ['setDataBreakpoints', { breakpoints: [{ dataId: 5, hitCondition: {} }] }],
      ['setBreakpoints', { source: { path: -1 }, breakpoints: [{ line: 1 }] }],
    ];
    for (const [command, args] of cases) {
      const r = await a.request(command, args);
      assert.equal(r.command, command);
    }
    // A message that is not JSON, and then one that is valid: still answered.
    a.writeRaw(a.frame('{not json'));
    a.writeRaw(a.frame('null'));
    assert.equal((await a.request('threads')).success, true);
    assert.equal(a.exited, undefined);
    noCrashTrace(a.stderr);
  } finally {
    await a.close();
  }
});
