// KVM tier: launch.json's sourceFileMap (issue 14, distro kernels): the
// directory a kernel was built in, mapped to where the user's copy of the
// tree is. A breakpoint set in the user's copy resolves through the map and
// stops; the frames name the user's copy. Mapped to a directory that does
// not exist, the frame says its source is not here and what to set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR, ROOT } from './helpers/guests';
import { finishDap, frames, launchDap, nextStop, startDap } from './helpers/dap-session';

const BUILT_IN = join(ROOT, 'test', 'guests', 'kernel');
const KERNEL = join(GUEST_DIR, 'cdata-gcc-O0.elf');
const leafLine = (): number => readFileSync(join(BUILT_IN, 'cdata.c'), 'utf8').split('\n').findIndex((l) => l.includes('/* bp:leaf */')) + 1;

test('sourceFileMap: a breakpoint in the user\'s copy of the tree stops, and frames name that copy', { timeout: BOOT_MS * 2 }, async () => {
  const tree = join(ROOT, 'test-output', 'source-map', 'my-tree');
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  copyFileSync(join(BUILT_IN, 'cdata.c'), join(tree, 'cdata.c'));
  const s = await startDap(BOOT_MS);
  try {
    const stop = nextStop(s, 'bp:leaf in the mapped tree');
    let bp: { verified: boolean; line?: number; message?: string } | undefined;
    await launchDap(s, { kernel: KERNEL, memory: '64M', sourceFileMap: { [BUILT_IN]: tree } }, async () => {
      bp = (await s.dc.setBreakpointsRequest({ source: { path: join(tree, 'cdata.c') }, breakpoints: [{ line: leafLine() }] })).body.breakpoints[0];
    });
    assert.ok(bp?.verified, bp?.message);
    assert.equal(bp!.line, leafLine());
    assert.equal((await stop).body.reason, 'breakpoint');
    const f = await frames(s);
    assert.equal(f[0].source?.path, join(tree, 'cdata.c'));
    assert.equal(f[0].line, leafLine());
    assert.equal(f[0].source?.origin, undefined, 'the file is there');
  } finally {
    await finishDap(s);
  }
});

test('sourceFileMap to a tree that is not here: the frame says its source is missing and what to set', { timeout: BOOT_MS * 2 }, async () => {
  const gone = join(ROOT, 'test-output', 'source-map', 'not-here');
  rmSync(gone, { recursive: true, force: true });
  const s = await startDap(BOOT_MS);
  try {
    const stop = nextStop(s, 'leaf');
    await launchDap(s, { kernel: KERNEL, memory: '64M', sourceFileMap: { [BUILT_IN]: gone } }, async () => {
      await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'leaf' }] });
    });
    await stop;
    const top = (await frames(s))[0];
    assert.equal(top.source?.path, join(gone, 'cdata.c'));
    assert.equal(top.source?.presentationHint, 'deemphasize');
    assert.match(top.source?.origin ?? '', /^source not found here: .*not-here\/cdata\.c \(map the kernel's build directory to your tree with "sourceFileMap" in launch\.json\)$/);
    assert.ok(top.instructionPointerReference, 'the disassembly view can open the frame');
  } finally {
    await finishDap(s);
  }
});
