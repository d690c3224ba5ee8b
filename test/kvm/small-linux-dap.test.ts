// kvm-needs: linux
// (an unmodified Linux guest)
// KVM tier: debugging real Linux kernels through the real debug adapter
// (DebugClient, DAP on stdio), breakpoints in hardware (DR0-3: inside the
// KVM sandbox int3 does not exit).
//  - kvmdbg's small Linux (scripts/build-linux.mjs), booted as a bzImage and
//    as a PVH vmlinux, symbols = its vmlinux (DWARF 5, absolute paths into
//    the build cache's source tree): a source breakpoint in start_kernel
//    (init/main.c) hits, the stack is symbolized down to
//    x86_64_start_kernel with files and lines, `next` steps over a line.
//  - Debian's packaged kernel with names only (a System.map): a function
//    breakpoint on start_kernel hits; the adapter added `nokaslr` and said so.
//  - The same kernel with `kaslr` kept: the adapter finds the slide at a
//    stop, says it, and symbols and breakpoints follow it.
// Debian's /boot/System.map-* is a placeholder (the real one is in the
// -dbg package, ~1 GiB), so the System.map here is the kernel's own
// /proc/kallsyms from a nokaslr boot: the same "address type name" lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildInitramfs, consoleContext, debianKernel, insmodLines, LINUX_TIMEOUT_MS, runCli, testOutput, VIRTIO_MODULES, SILENT_MS } from './helpers/linux-initramfs';
import { smallLinux } from './helpers/small-linux';
import { finishDap, frames, launchDap, nextStop, rip, startDap, waitForText } from './helpers/dap-session';

const T = 400_000;
const CMDLINE = 'console=ttyS0 panic=-1';
/** Debian's kernel prints ~40 KB at boot, one emulated port write a byte: `quiet` keeps the sandbox boots short. */
const DEBIAN_CMDLINE = `${CMDLINE} quiet`;

/** The small Linux's source tree (first line of source-dir in its cache directory). */
function sourceDir(dir: string): string {
  const f = join(dir, 'source-dir');
  assert.ok(existsSync(f), `${f} is missing: rebuild the small Linux (node scripts/build-linux.mjs)`);
  return readFileSync(f, 'utf8').split('\n')[0].trim();
}

/** The 1-based line of `text` inside start_kernel's body in init/main.c. */
function startKernelLine(mainC: string, text: string): number {
  const lines = readFileSync(mainC, 'utf8').split('\n');
  const def = lines.findIndex((l) => /\bvoid\b.*\bstart_kernel\(void\)/.test(l));
  assert.ok(def >= 0, `no start_kernel definition in ${mainC}`);
  const i = lines.findIndex((l, n) => n > def && l.includes(text));
  assert.ok(i > def, `no "${text}" in start_kernel`);
  return i + 1;
}

for (const way of ['bzImage', 'vmlinux'] as const) {
  test(`small Linux (${way}): a source breakpoint in start_kernel hits, the stack is symbolized, next steps over a line`, { timeout: T + 30_000 }, async () => {
    const k = smallLinux();
    const mainC = join(sourceDir(k.dir), 'init', 'main.c');
    const line = startKernelLine(mainC, 'set_task_stack_end_magic(&init_task);');
    const s = await startDap(T);
    try {
      let bpResult: { verified: boolean; line?: number; message?: string } | undefined;
      const stop = nextStop(s, 'the breakpoint in start_kernel');
      await launchDap(s, { kernel: way === 'bzImage' ? k.bzImage : k.vmlinux, symbols: k.vmlinux, cmdline: CMDLINE, memory: '256M' }, async () => {
        const r = await s.dc.setBreakpointsRequest({ source: { path: mainC }, breakpoints: [{ line }] });
        bpResult = r.body.breakpoints[0];
      });
      assert.ok(bpResult?.verified, `breakpoint at init/main.c:${line}: ${bpResult?.message}\n${s.console()}`);
      assert.equal(bpResult!.line, line);
      const ev = await stop;
      assert.equal(ev.body.reason, 'breakpoint', s.console());
      assert.match(s.console(), /vmlinux: DWARF 5 line tables for \d+ files, CFI for \d+ functions .*symbols/, 'the symbols summary');
      assert.match(s.console(), /kvmdbg added "nokaslr" to the kernel command line/);
      const f = await frames(s);
      const shown = f.map((x) => `${x.name} ${x.source?.path ?? ''}:${x.line}`).join('\n');
      assert.equal(f[0].name, 'start_kernel', shown);
      assert.equal(f[0].source?.path, mainC, shown);
      assert.equal(f[0].line, line, shown);
      assert.equal(f[1]?.name, 'x86_64_start_reservations', shown);
      assert.match(f[1].source?.path ?? '', /arch\/x86\/kernel\/head64\.c$/, shown);
      assert.ok((f[1].line ?? 0) > 0, shown);
      assert.equal(f[2]?.name, 'x86_64_start_kernel', shown);
      assert.match(f[2].source?.path ?? '', /arch\/x86\/kernel\/head64\.c$/, shown);
      const nextDone = nextStop(s, 'next');
      await s.dc.nextRequest({ threadId: 1 });
      assert.equal((await nextDone).body.reason, 'step');
      const g = await frames(s);
      const after = g.map((x) => `${x.name} ${x.source?.path ?? ''}:${x.line}`).join('\n');
      assert.equal(g[0].name, 'start_kernel', after);
      assert.equal(g[0].source?.path, mainC, after);
      assert.ok((g[0].line ?? 0) > line, `next went from line ${line} to a later line of start_kernel:\n${after}`);
      assert.equal(g[1]?.name, 'x86_64_start_reservations', after);
      console.log(`# small Linux (${way}): stopped at init/main.c:${line}, next -> line ${g[0].line}`);
    } finally {
      await finishDap(s);
    }
  });
}

/**
 * A System.map for Debian's kernel: its /proc/kallsyms from a nokaslr boot,
 * written by the guest to a virtio disk (cached under test-output/; the
 * console would take minutes for ~6 MB in the sandbox).
 */
let systemMapOnce: Promise<string> | undefined;
function debianSystemMap(kernel: string): Promise<string> {
  systemMapOnce ??= makeDebianSystemMap(kernel);
  return systemMapOnce;
}

async function makeDebianSystemMap(kernel: string): Promise<string> {
  const dir = testOutput('debian-kallsyms');
  const release = basename(kernel).slice('vmlinuz-'.length);
  const map = join(dir, `System.map-${release}`);
  if (existsSync(map) && statSync(map).mtimeMs > statSync(kernel).mtimeMs && / T start_kernel\n/.test(readFileSync(map, 'utf8'))) return map;
  const initrd = buildInitramfs({
    dir, modulesFor: kernel, modules: VIRTIO_MODULES,
    init: [
      ...insmodLines(),
      'for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; sleep 1; done',
      'echo 0 > /proc/sys/kernel/kptr_restrict',
      'cat /proc/kallsyms > /tmp/kallsyms',
      'echo "kallsyms bytes: $(wc -c < /tmp/kallsyms)"',
      'dd if=/tmp/kallsyms of=/dev/vda bs=1M conv=fsync 2>/dev/null && echo KALLSYMS-WRITTEN',
      'poweroff -f',
    ],
  });
  const disk = join(dir, 'kallsyms.img');
  writeFileSync(disk, Buffer.alloc(32 * 1024 * 1024));
  const r = await runCli(['run', '--kernel', kernel, '--initrd', initrd, '--cmdline', `${DEBIAN_CMDLINE} nokaslr`, '--memory', '256M', '--disk', disk]);
  assert.ok(r.stdout.includes('KALLSYMS-WRITTEN'), `the guest did not write its kallsyms${consoleContext(r)}`);
  const image = readFileSync(disk);
  const end = image.indexOf(0);
  const text = image.subarray(0, end < 0 ? image.length : end).toString('latin1');
  assert.match(text, /^ffffffff[0-9a-f]{8} [Tt] start_kernel$/m, 'kallsyms with real addresses (kptr_restrict 0, read as root)');
  mkdirSync(dir, { recursive: true });
  writeFileSync(map, text);
  return map;
}

function mapAddress(map: string, name: string): bigint {
  const m = new RegExp(`^([0-9a-f]{16}) [A-Za-z] ${name}$`, 'm').exec(readFileSync(map, 'utf8'));
  assert.ok(m, `${name} in ${map}`);
  return BigInt(`0x${m[1]}`);
}

test('Debian\'s kernel with a System.map: a function breakpoint on start_kernel hits; nokaslr added and said', { timeout: LINUX_TIMEOUT_MS + T + 30_000 }, async () => {
  const kernel = debianKernel();
  const map = await debianSystemMap(kernel);
  const s = await startDap(T);
  try {
    let bp: { verified: boolean; message?: string; instructionReference?: string } | undefined;
    const stop = nextStop(s, 'the function breakpoint on start_kernel');
    await launchDap(s, { kernel, symbols: map, cmdline: DEBIAN_CMDLINE, memory: '256M' }, async () => {
      bp = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'start_kernel' }] })).body.breakpoints[0];
    });
    const want = mapAddress(map, 'start_kernel');
    assert.ok(bp?.verified, `start_kernel: ${bp?.message}`);
    assert.equal(bp!.instructionReference, `v:0x${want.toString(16)}`);
    assert.match(s.console(), /symbols \(names only: no source lines or frame information\)/);
    assert.match(s.console(), /kvmdbg added "nokaslr" to the kernel command line so that the symbols of System.map-[^ ]+ match the running kernel/);
    const ev = await stop;
    assert.equal(ev.body.reason, 'function breakpoint', s.console());
    assert.equal(await rip(s), want);
    // Names only (no source): the frame reads `System.map-...!start_kernel+0x0` and opens in the disassembly view.
    assert.match((await frames(s))[0].name, /!start_kernel\+0x0$/);
    assert.match(s.console(), /the kernel runs at the addresses .* was linked at \(no KASLR slide\)/);
  } finally {
    await finishDap(s);
  }
});

test('Debian\'s kernel with "kaslr" kept: the slide is found at a stop, said, and symbols and breakpoints follow it', { timeout: LINUX_TIMEOUT_MS + T + 60_000 }, async () => {
  const kernel = debianKernel();
  const map = await debianSystemMap(kernel);
  const marker = 'KVMDBG-KASLR-INIT';
  const initrd = buildInitramfs({
    dir: testOutput('small-linux-dap-kaslr'),
    init: [`echo ${marker}`, 'while true; do echo tick > /dev/null; sleep 1; done'],
  });
  const s = await startDap(T);
  try {
    await launchDap(s, { kernel, symbols: map, initrd, cmdline: `${DEBIAN_CMDLINE} kaslr`, memory: '256M' });
    assert.doesNotMatch(s.console(), /added "nokaslr"/, 'the user asked for kaslr: kept');
    await waitForText(s.stdout, marker, LINUX_TIMEOUT_MS, 'the init\'s marker', SILENT_MS);
    // A pause may land where the kernel image is not mapped (a user address space under PTI): try a few.
    let slide: bigint | undefined;
    for (let i = 0; i < 5 && slide === undefined; i++) {
      const paused = nextStop(s, 'pause');
      await s.dc.pauseRequest({ threadId: 1 });
      await paused;
      const m = /KASLR is on: the kernel runs 0x([0-9a-f]+) from the addresses/.exec(s.console());
      if (m) slide = BigInt(`0x${m[1]}`);
      else if (/no KASLR slide/.test(s.console())) assert.fail('KASLR chose the link address itself (1 chance in ~500): run the test again');
      else await s.dc.continueRequest({ threadId: 1 });
    }
    assert.ok(slide !== undefined && slide % 0x200000n === 0n, `the slide was not found in 5 pauses:\n${s.console()}`);
    const pc = await rip(s);
    const top = (await frames(s))[0];
    if (pc >= 0xffffffff80000000n && pc < 0xffffffffc0000000n) assert.doesNotMatch(top.name, /^0x/, `a kernel address is symbolized after the rebase: ${top.name}`);
    const linked = mapAddress(map, '__x64_sys_write');
    const bp = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: '__x64_sys_write' }] })).body.breakpoints[0];
    assert.ok(bp.verified, bp.message);
    assert.equal(bp.instructionReference, `v:0x${(linked + slide).toString(16)}`, 'the breakpoint is where the code runs');
    const hit = nextStop(s, 'the function breakpoint on __x64_sys_write (the init\'s echo)');
    await s.dc.continueRequest({ threadId: 1 });
    assert.equal((await hit).body.reason, 'function breakpoint');
    assert.equal(await rip(s), linked + slide);
    assert.match((await frames(s))[0].name, /!__x64_sys_write\+0x0$/);
    console.log(`# KASLR slide 0x${slide.toString(16)} found and rebased`);
  } finally {
    await finishDap(s);
  }
});
