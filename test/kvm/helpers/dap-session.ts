// A DebugClient session against the real adapter process (out/debug-adapter/main.js),
// for the Linux debugging tests: start, launch with a configuration phase,
// wait for stops and console text, stack frames, and a clean end.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ROOT, within } from './guests';

export const ADAPTER = join(ROOT, 'out', 'debug-adapter', 'main.js');

export interface DapSession {
  dc: DebugClient;
  /** The guest's console (category stdout). */
  stdout(): string;
  /** The adapter's own sentences (console, important). */
  console(): string;
  timeout: number;
}

export async function startDap(timeout: number): Promise<DapSession> {
  const dc = new DebugClient('node', ADAPTER, 'kvm', undefined, !!process.env.KVMDBG_DAP_STDERR);
  dc.defaultTimeout = timeout;
  await dc.start();
  let out = '';
  let con = '';
  dc.on('output', (e: DebugProtocol.OutputEvent) => {
    if (e.body.category === 'stdout') out += e.body.output; else con += e.body.output;
  });
  return { dc, stdout: () => out, console: () => con, timeout };
}

/** initialize + launch; `configure` runs between 'initialized' and configurationDone (set breakpoints there). */
export async function launchDap(s: DapSession, args: Record<string, unknown>, configure: () => Promise<unknown> = async () => {}): Promise<void> {
  await within(Promise.all([
    s.dc.initializeRequest({ adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' })
      .then(() => s.dc.launchRequest(args as DebugProtocol.LaunchRequestArguments)),
    s.dc.waitForEvent('initialized', s.timeout).then(configure).then(() => s.dc.configurationDoneRequest()),
  ]), s.timeout, 'launch');
}

export async function nextStop(s: DapSession, what: string): Promise<DebugProtocol.StoppedEvent> {
  return within(s.dc.waitForEvent('stopped', s.timeout), s.timeout, what) as Promise<DebugProtocol.StoppedEvent>;
}

export async function frames(s: DapSession, threadId = 1): Promise<DebugProtocol.StackFrame[]> {
  return (await s.dc.stackTraceRequest({ threadId })).body.stackFrames;
}

/**
 * Polls `text()` until `pattern` matches (the guest's console, the adapter's notes).
 * `silentMs`: fail sooner when the text has not grown for that long (a booting Linux
 * prints all the time: silence is the sandbox's emulation stall, README Reliability).
 */
export async function waitForText(text: () => string, pattern: RegExp | string, ms: number, what: string, silentMs = Infinity): Promise<void> {
  const t0 = Date.now();
  let length = text().length;
  let grew = t0;
  const hit = (): boolean => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text()));
  while (!hit()) {
    const now = Date.now();
    if (text().length !== length) { length = text().length; grew = now; }
    if (now - t0 > ms) assert.fail(`${what}: not there after ${ms / 1000} s; last output:\n${text().slice(-3000)}`);
    if (now - grew > silentMs) assert.fail(`${what}: not there, and the console printed nothing for ${silentMs / 1000} s (a stalled boot?); last output:\n${text().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls `get()` until it returns something (an event seen, a state reached); fails after `ms`. */
export async function until<T>(what: string, ms: number, get: () => T | undefined): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not seen after ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A register's text in a thread's top frame, through stackTrace -> scopes -> variables, as VS Code gets it. */
export async function registerText(s: DapSession, name: string, threadId = 1): Promise<string> {
  const top = (await s.dc.stackTraceRequest({ threadId, levels: 1 })).body.stackFrames[0];
  const scopes = (await s.dc.scopesRequest({ frameId: top.id })).body.scopes;
  for (const scope of scopes) {
    const v = (await s.dc.variablesRequest({ variablesReference: scope.variablesReference })).body.variables.find((x) => x.name === name);
    if (v) return v.value;
  }
  return assert.fail(`no register ${name} in thread ${threadId}'s scopes (${scopes.map((x) => x.name).join(', ')})`);
}

/** A register's value in a thread's top frame. */
export async function register(s: DapSession, name: string, threadId = 1): Promise<bigint> {
  return BigInt((await registerText(s, name, threadId)).split(' ')[0]);
}

export function rip(s: DapSession, threadId = 1): Promise<bigint> {
  return register(s, 'rip', threadId);
}

/** Sends a request and waits for the stop it causes; a timeout names `what`. */
export async function stopAfter(s: DapSession, what: string, request: () => Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
  const [ev] = await Promise.all([nextStop(s, what), request()]);
  return ev;
}

/** How long the adapter may take to be gone after the disconnect (it takes ~130 ms: its vCPU threads end first). */
const ADAPTER_EXIT_MS = 10_000;

export async function finishDap(s: DapSession): Promise<void> {
  await stopAdapter(s.dc);
}

/** Disconnects and waits until the adapter process is gone (fails if it lingers). */
export async function stopAdapter(dc: DebugClient): Promise<void> {
  // (DebugClient keeps its adapter process private; it drops the reference in stop().)
  const adapter = (dc as unknown as { _adapterProcess?: ChildProcess })._adapterProcess;
  // One disconnect: DebugClient.stop() sends it and then kills the adapter. A second one raced the
  // adapter's own exit 100 ms after the first (EPIPE, or a request never answered).
  await dc.stop().catch(() => {});
  // Waited for: a test file that ended at once left it "running" for the tier's leak check.
  if (!adapter || adapter.exitCode !== null || adapter.signalCode !== null) return;
  const gone = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ADAPTER_EXIT_MS);
    adapter.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
  if (!await gone) assert.fail(`the debug adapter (pid ${adapter.pid}) was still running ${ADAPTER_EXIT_MS / 1000} s after the disconnect`);
}

// C data as VS Code's Variables, Watch and hover ask for it.

export async function topFrame(s: DapSession): Promise<DebugProtocol.StackFrame> {
  return (await frames(s))[0];
}

export async function scopeVariables(s: DapSession, frameId: number, scope: string): Promise<DebugProtocol.Variable[]> {
  const scopes = (await s.dc.scopesRequest({ frameId })).body.scopes;
  const found = scopes.find((x) => x.name === scope);
  assert.ok(found, `no "${scope}" scope (there are: ${scopes.map((x) => x.name).join(', ')})`);
  return (await s.dc.variablesRequest({ variablesReference: found.variablesReference })).body.variables;
}

export function named(vars: DebugProtocol.Variable[], name: string): DebugProtocol.Variable {
  const v = vars.find((x) => x.name === name);
  assert.ok(v, `no variable "${name}" (there are: ${vars.map((x) => x.name).join(', ')})`);
  return v;
}

export async function evaluate(s: DapSession, expression: string, frameId: number): Promise<DebugProtocol.EvaluateResponse['body']> {
  return (await s.dc.evaluateRequest({ expression, frameId, context: 'watch' })).body;
}
