// KVM tier: C data through the real debug adapter, as VS Code's Variables,
// Watch and hover ask for it (issue 14), on the cdata test kernel built four
// ways (test/guests/kernel/CDATA.md: gcc -O0, gcc -O2, clang -O2, gcc -O0
// with DWARF 4). At each breakpoint marker the scopes hold exactly what gdb
// showed there: locals by block, parameters (in caller frames too), an
// inlined function's own frame and locals, what -O2 optimized out (said,
// the rest of the scope intact), and the globals: a struct with bitfields
// and unions, 300 elements paged, an enum, a function pointer, strings.
// Then setVariable changes what the guest prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BOOT_MS, GUEST_DIR, markerLine as markerOf, ROOT } from './helpers/guests';
import { evaluate, finishDap, frames, launchDap, named, nextStop, startDap, stopAfter, waitForText, type DapSession } from './helpers/dap-session';

const SOURCE = join(ROOT, 'test', 'guests', 'kernel', 'cdata.c');
const VARIANTS = ['gcc-O0', 'gcc-O2', 'clang-O2', 'gcc-O0-dwarf4'] as const;
type Variant = typeof VARIANTS[number];
const optimized = (v: Variant) => v.endsWith('O2');

const markerLine = (name: string): number => markerOf(SOURCE, name);

async function scopes(s: DapSession, frameId: number): Promise<Map<string, DebugProtocol.Variable[]>> {
  const out = new Map<string, DebugProtocol.Variable[]>();
  for (const sc of (await s.dc.scopesRequest({ frameId })).body.scopes) {
    if (['Locals', 'Arguments', 'Statics'].includes(sc.name)) {
      out.set(sc.name, (await s.dc.variablesRequest({ variablesReference: sc.variablesReference })).body.variables);
    }
  }
  return out;
}

/** name -> value of a scope's variables. */
function values(vars: DebugProtocol.Variable[] | undefined): Record<string, string> {
  return Object.fromEntries((vars ?? []).map((v) => [v.name, v.value]));
}

async function children(s: DapSession, v: DebugProtocol.Variable | DebugProtocol.EvaluateResponse['body'], args: Partial<DebugProtocol.VariablesArguments> = {}): Promise<DebugProtocol.Variable[]> {
  assert.ok(v.variablesReference > 0, 'expandable');
  return (await s.dc.variablesRequest({ variablesReference: v.variablesReference, ...args })).body.variables;
}

for (const variant of VARIANTS) {
  test(`cdata (${variant}): locals, arguments, caller frames, inlined frames and globals, exactly; setVariable reaches the guest`, { timeout: BOOT_MS * 3 }, async () => {
    const kernel = join(GUEST_DIR, `cdata-${variant}.elf`);
    const s = await startDap(BOOT_MS);
    try {
      const lines = { leaf: markerLine('leaf'), inline: markerLine('inline'), block: markerLine('block') };
      let verified: DebugProtocol.Breakpoint[] = [];
      const first = nextStop(s, 'bp:leaf');
      await launchDap(s, { kernel, memory: '64M' }, async () => {
        verified = (await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: Object.values(lines).map((line) => ({ line })) })).body.breakpoints;
      });
      assert.deepEqual(verified.map((b) => [b.verified, b.line]), Object.values(lines).map((l) => [true, l]), JSON.stringify(verified));

      // ---- bp:leaf: leaf(5, 400, head) called from caller(4, "outer")
      assert.equal((await first).body.reason, 'breakpoint', s.console());
      let f = await frames(s);
      assert.deepEqual(f.slice(0, 3).map((x) => x.name), ['leaf', 'caller', 'kernel_main']);
      let sc = await scopes(s, f[0].id);
      assert.deepEqual(values(sc.get('Arguments')), { a: '5', b: '400', n: named(sc.get('Arguments')!, 'n').value });
      assert.match(values(sc.get('Arguments')).n, /^0x[0-9a-f]+ <node1>$/);
      assert.equal(named(sc.get('Arguments')!, 'n').type, 'struct node *');
      const leafLocals = values(sc.get('Locals'));
      assert.equal(leafLocals.sum, '405');
      assert.equal(leafLocals.vol_local, '355');
      assert.equal(leafLocals.prod, variant === 'clang-O2' ? '<optimized out>' : '50');
      assert.equal(leafLocals.where, variant === 'clang-O2' ? '{x = 5, y = <optimized out>}' : '{x = 5, y = -400}');
      const n = named(sc.get('Arguments')!, 'n');
      const nMembers = await children(s, n);
      assert.equal(values(nMembers).value, '10');
      assert.equal(named(nMembers, 'value').evaluateName, 'n->value');
      assert.equal((await evaluate(s, 'n->next->value', f[0].id)).result, '20');
      assert.equal((await evaluate(s, 'a * b + sum', f[0].id)).result, String(5 * 400 + 405));

      // The caller's frame: its parameters, from registers the callee kept (gcc -O2: R9-R11) or saved.
      sc = await scopes(s, f[1].id);
      assert.deepEqual(values(sc.get('Arguments')), { depth: '4', tag: values(sc.get('Arguments')).tag });
      assert.match(values(sc.get('Arguments')).tag, /^0x[0-9a-f]+ "outer"$/);
      const callerLocals = values(sc.get('Locals'));
      assert.equal(callerLocals.base, '400');
      assert.equal(callerLocals.scratch, optimized(variant) ? '<optimized out>' : '15');

      // Globals and file statics of the unit.
      const g = sc.get('Statics')!;
      const gv = values(g);
      assert.equal(gv.fib_result, '6765');
      assert.equal(gv.negative, '-42');
      assert.equal(gv.big_value, '18364758544493064720');
      assert.equal(gv.file_static, '24301');
      assert.equal(gv.letter, "75 'K'");
      assert.equal(gv.flag_true, 'true');
      assert.equal(gv.favorite, 'COLOR_BLUE');
      assert.match(gv.op, /^0x[0-9a-f]+ <add_numbers>$/);
      assert.equal(named(g, 'op').type, 'int (*)(int, int)');
      assert.match(gv.greeting, /^0x[0-9a-f]+ "hello\\tworld\\n"$/);
      assert.equal(gv.name, '"kvmdbg-cdata"');
      assert.equal(named(g, 'name').type, 'char [16]');
      const cfg = await children(s, named(g, 'cfg'));
      const cv = values(cfg);
      assert.deepEqual([cv.mode, cv.ready, cv.level, cv.id, cv.color, cv.label.replace(/^0x[0-9a-f]+ /, '')], ['5', '1', '9', '-17', 'COLOR_GREEN', '"cfg-label"']);
      assert.equal(named(cfg, 'mode').evaluateName, 'cfg.mode');
      // The anonymous union's members, and the named union's.
      assert.equal((await evaluate(s, 'cfg.raw', f[1].id)).result, '3735928559');
      assert.equal((await evaluate(s, 'cfg.w.u16[1]', f[1].id)).result, '4386');
      assert.equal((await evaluate(s, 'cfg_ptr->origin.y', f[1].id)).result, '-4');
      assert.equal((await evaluate(s, 'grid[2][3]', f[1].id)).result, '23');
      assert.equal((await evaluate(s, 'sizeof(struct config)', f[1].id)).result, '40');
      assert.equal((await evaluate(s, 'head->next->next->next', f[1].id)).result, '0x0');
      // 300 elements, paged past 100.
      const squares = named(g, 'squares');
      assert.equal(squares.indexedVariables, 300);
      assert.equal(squares.type, 'int [300]');
      const page = await children(s, squares, { filter: 'indexed', start: 200, count: 100 });
      assert.equal(page.length, 100);
      assert.deepEqual([page[0].name, page[0].value, page[99].name, page[99].value], ['[200]', '40000', '[299]', '89401']);
      assert.equal(page[99].evaluateName, 'squares[299]');
      assert.ok(squares.memoryReference, 'an array in memory has a memory reference');
      // Set Value on one element of a paged array.
      assert.equal((await s.dc.setVariableRequest({ variablesReference: squares.variablesReference, name: '[299]', value: '7' })).body.value, '7');
      assert.equal((await evaluate(s, 'squares[299] + squares[17]', f[1].id)).result, String(7 + 289));
      await s.dc.setVariableRequest({ variablesReference: squares.variablesReference, name: '[299]', value: '299 * 299' });
      assert.equal((await evaluate(s, 'squares[299]', f[1].id)).result, '89401');

      // setVariable: the guest prints what was written.
      const set = await s.dc.setVariableRequest({ variablesReference: (await s.dc.scopesRequest({ frameId: f[1].id })).body.scopes.find((x) => x.name === 'Statics')!.variablesReference, name: 'counter', value: '4321' });
      assert.equal(set.body.value, '4321');

      // The Debug Console completes members; the Watch view's Set Value (setExpression).
      const done = (await s.dc.completionsRequest({ text: 'head->ne', column: 9, frameId: f[1].id })).body.targets.map((t) => t.label);
      assert.ok(done.includes('next'), `completions: ${done.join(', ')}`);
      const setExpression = (expression: string, value: string) =>
        s.dc.customRequest('setExpression', { expression, value, frameId: f[1].id }) as Promise<DebugProtocol.SetExpressionResponse>;
      assert.equal((await setExpression('cfg.origin.y', '-44')).body.value, '-44');
      assert.equal((await evaluate(s, 'cfg_ptr->origin.y', f[1].id)).result, '-44');
      await setExpression('cfg.origin.y', '-4');

      // Break on Value Change, from the Variables view: mix_hits is written on the bp:inline line.
      const staticsRef = (await s.dc.scopesRequest({ frameId: f[1].id })).body.scopes.find((x) => x.name === 'Statics')!.variablesReference;
      const info = (await s.dc.dataBreakpointInfoRequest({ variablesReference: staticsRef, name: 'mix_hits' })).body;
      assert.ok(info.dataId, info.description);
      assert.match(info.description, /^mix_hits \(4 bytes at 0x[0-9a-f]+\)$/);
      assert.ok((await s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.dataId!, accessType: 'write' }] })).body.breakpoints[0].verified);

      // ---- bp:inline: mix(830, 4) inlined into caller (the line's breakpoint comes before its write)
      assert.equal((await stopAfter(s, 'bp:inline', () => s.dc.continueRequest({ threadId: 1 }))).body.reason, 'breakpoint');
      f = await frames(s);
      assert.deepEqual(f.slice(0, 3).map((x) => x.name), ['mix', 'caller', 'kernel_main']);
      assert.equal(f[0].line, lines.inline);
      sc = await scopes(s, f[0].id);
      // In declaration order, as the source has them (gcc's concrete inlined DIEs list them reversed).
      assert.deepEqual(sc.get('Arguments')!.map((v) => `${v.name}=${v.value}`), ['x=830', 'y=4']);
      assert.deepEqual([values(sc.get('Locals')).t, values(sc.get('Locals')).u], ['826', '1082']);
      assert.equal(values((await scopes(s, f[1].id)).get('Locals')).r, '830');

      const write = await stopAfter(s, 'the write to mix_hits', () => s.dc.continueRequest({ threadId: 1 }));
      if (write.body.reason !== 'data breakpoint') {
        const top = (await frames(s))[0];
        assert.fail(`stopped on ${write.body.reason} (${write.body.description}) in ${top.name} line ${top.line} at ${top.instructionPointerReference}, not on the write to mix_hits\n${s.console()}`);
      }
      assert.equal((await evaluate(s, 'mix_hits', (await frames(s))[0].id)).result, '1');
      await s.dc.setDataBreakpointsRequest({ breakpoints: [] });

      // ---- bp:block: a lexical block's locals come first
      assert.equal((await stopAfter(s, 'bp:block', () => s.dc.continueRequest({ threadId: 1 }))).body.reason, 'breakpoint');
      f = await frames(s);
      sc = await scopes(s, f[0].id);
      const blockLocals = sc.get('Locals')!;
      assert.deepEqual(blockLocals.slice(0, 2).map((v) => `${v.name}=${v.value}`), ['inner=2998', 'inner_copy=5996']);
      assert.equal(values(blockLocals).r, '2994');

      await s.dc.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [] });
      await s.dc.continueRequest({ threadId: 1 });
      await waitForText(s.stdout, /counter=4321 cfg\.mode=5/, BOOT_MS, 'the guest printing the value setVariable wrote');
    } finally {
      await finishDap(s);
    }
  });
}
