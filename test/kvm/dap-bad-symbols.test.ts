// KVM tier: bad symbol files under C-level debugging (issue 14). The cdata
// kernel runs as built; its `symbols` are a damaged copy: stripped of DWARF,
// .debug_info and .debug_abbrev overwritten with garbage, or cut short. Each
// launch says what is wrong in one sentence, a function breakpoint still
// stops (the symbol table is intact), the Variables view still has the
// registers, a C expression answers with a sentence, and the adapter lives on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFile } from '../../vmm/boot/elf';
import { BOOT_MS, GUEST_DIR, ROOT } from './helpers/guests';
import { finishDap, frames, launchDap, nextStop, startDap } from './helpers/dap-session';

const KERNEL = join(GUEST_DIR, 'cdata-gcc-O0.elf');
const OUT = join(ROOT, 'test-output', 'bad-symbols');

function damaged(kind: 'stripped' | 'garbage' | 'truncated'): string {
  mkdirSync(OUT, { recursive: true });
  const path = join(OUT, `cdata-${kind}.elf`);
  if (kind === 'stripped') {
    const r = spawnSync('objcopy', ['--strip-debug', KERNEL, path], { encoding: 'utf8' });
    assert.equal(r.status, 0, `objcopy --strip-debug (binutils): ${r.stderr}`);
    return path;
  }
  const bytes = new Uint8Array(readFileSync(KERNEL));
  const elf = new ElfFile('cdata', bytes);
  const info = elf.sections().find((s) => s.name === '.debug_info')!;
  const abbrev = elf.sections().find((s) => s.name === '.debug_abbrev')!;
  if (kind === 'garbage') {
    // Deterministic garbage after each unit header's first bytes: every DIE read meets nonsense.
    let x = 0x2545f491;
    for (const s of [info, abbrev]) {
      for (let i = 16; i < s.size; i++) { x = (x * 1103515245 + 12345) >>> 0; bytes[s.offset + i] = x >>> 24; }
    }
    writeFileSync(path, bytes);
  } else {
    // Cut inside .debug_info: the section headers (at the end of the file) are gone too.
    writeFileSync(path, bytes.subarray(0, info.offset + Math.floor(info.size / 2)));
  }
  return path;
}

for (const kind of ['stripped', 'garbage', 'truncated'] as const) {
  test(`symbols ${kind}: one sentence, the breakpoint still stops, registers still show, C expressions answer with a sentence`, { timeout: BOOT_MS * 2 }, async () => {
    const symbols = damaged(kind);
    const s = await startDap(BOOT_MS);
    try {
      // Cut short, the file has no symbol table: no breakpoint is placed, no stop comes.
      const stop = kind === 'truncated' ? undefined : nextStop(s, 'the function breakpoint on leaf');
      let verified = false;
      await launchDap(s, { kernel: KERNEL, symbols, memory: '64M' }, async () => {
        const bp = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'leaf' }] })).body.breakpoints[0];
        verified = bp.verified;
      });
      if (kind === 'truncated') {
        // No symbol table either: the launch says so, and the kernel runs to its end.
        assert.match(s.console(), /cdata-truncated\.elf: .*(no symbols|cannot|truncated|outside the file)/i, s.console());
        assert.equal(verified, false);
        return;
      }
      assert.ok(verified, s.console());
      assert.equal((await stop!).body.reason, 'function breakpoint');
      if (kind === 'stripped') assert.match(s.console(), /has no DWARF line tables/);
      else assert.match(s.console(), /problems? in damaged debug sections/);
      const top = (await frames(s))[0];
      const scopes = (await s.dc.scopesRequest({ frameId: top.id })).body.scopes.map((x) => x.name);
      assert.ok(scopes.includes('General'), `registers still show: ${scopes.join(', ')}`);
      const rip = await s.dc.evaluateRequest({ expression: '$rip', frameId: top.id, context: 'watch' });
      assert.ok(rip.success, 'registers still evaluate');
      const c = await s.dc.evaluateRequest({ expression: 'head->next->value', frameId: top.id, context: 'watch' }).then(
        (r) => `value ${r.body.result}`, (e: Error) => e.message);
      assert.ok(c === 'value 20' || /^[^\n]+$/.test(c), `one sentence or the value: ${c}`);
      assert.doesNotMatch(c, /\bat \S+\.js:\d+/, 'no stack trace');
      // The adapter is still answering.
      assert.ok((await s.dc.threadsRequest()).success);
    } finally {
      await finishDap(s);
    }
  });
}
