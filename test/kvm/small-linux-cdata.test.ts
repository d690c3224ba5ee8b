// kvm-needs: linux
// (an unmodified Linux guest)
// KVM tier: C data in a real Linux through the real debug adapter (issue 14).
// kvmdbg's small Linux (DWARF 5, gcc -O2) boots a busybox init whose loop
// task reads its own /proc/self/stat and /proc/sys/kernel/panic every second
// and prints them. One boot (Linux boots are slow in the sandbox), phases:
//  1. a function breakpoint on do_sys_openat2 with the condition
//     `current->pid == N` (N = the loop task, from its own /proc/self/stat)
//     stops only there, twice (the loop's `cat` children open files between
//     the two, in other tasks); its parameters read (dfd, the user-space
//     filename string); `current->comm`, `current->pid` equal what the guest
//     printed; `init_task.comm` is "swapper/0"; sizeof and casts work;
//  2. stopped in proc_dointvec (kernel/sysctl.c, reading
//     /proc/sys/kernel/panic), the Statics scope holds the global
//     panic_timeout; setVariable makes it 42, and the guest then prints 42;
//  3. seeing 42, the guest runs `hostname`: a data breakpoint set from the
//     Variables view on the member init_uts_ns.name.nodename stops on the write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootLinuxDap, buildInitramfs, testOutput } from './helpers/linux-initramfs';
import { smallLinux } from './helpers/small-linux';
import { evaluate, finishDap, named, nextStop, scopeVariables, stopAfter, topFrame, waitForText } from './helpers/dap-session';

const T = 400_000;

test('small Linux: C data at a syscall (parameters, current, conditions), setVariable on a global, a data breakpoint on a struct member', { timeout: T + 60_000 }, async () => {
  const k = smallLinux();
  const initrd = buildInitramfs({
    dir: testOutput('small-linux-cdata'),
    init: [
      'hostname start',
      '( while true; do',
      '    read stat < /proc/self/stat',
      '    p=$(cat /proc/sys/kernel/panic)',
      '    echo "STAT $stat PANIC $p HOST $(hostname)"',
      '    if [ "$p" = 42 ]; then hostname changed-by-guest; fi',
      '    sleep 1',
      '  done ) &',
      'while true; do sleep 10; done',
    ],
  });
  const s = await bootLinuxDap(T, { kernel: k.bzImage, symbols: k.vmlinux, initrd, cmdline: 'console=ttyS0 panic=-1', memory: '256M' },
    /STAT \d+ \(\S+\) .* PANIC -1 HOST start/, 'the loop task\'s first line');
  try {
    const m = /STAT (\d+) \((\S+)\) .* PANIC -1 HOST start/.exec(s.stdout())!;
    const pid = Number(m[1]);
    const comm = m[2];

    // 1. The conditional function breakpoint, twice in the same task.
    const bp = (await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'do_sys_openat2', condition: `current->pid == ${pid}` }] })).body.breakpoints[0];
    assert.ok(bp.verified, bp.message);
    for (let hit = 1; hit <= 2; hit++) {
      const ev = await (hit === 1 ? nextStop(s, 'do_sys_openat2 in the loop task') : stopAfter(s, 'do_sys_openat2 again', () => s.dc.continueRequest({ threadId: 1 })));
      assert.equal(ev.body.reason, 'function breakpoint', s.console());
      const top = await topFrame(s);
      assert.equal(top.name, 'do_sys_openat2');
      assert.match(top.source?.path ?? '', /fs\/open\.c$/);
      assert.equal((await evaluate(s, 'current->pid', top.id)).result, String(pid), `hit ${hit}: the condition held`);
      const args = await scopeVariables(s, top.id, 'Arguments');
      assert.deepEqual(args.map((v) => v.name), ['dfd', 'filename', 'how']);
      assert.equal(named(args, 'dfd').value, '-100', 'AT_FDCWD');
      assert.equal(named(args, 'dfd').type, 'int');
      assert.match(named(args, 'filename').value, /^0x[0-9a-f]+ "\/proc\/self\/stat"$/);
      assert.equal(named(args, 'filename').type, 'const char *');
      assert.equal(named(args, 'filename').evaluateName, 'filename');
      assert.equal(named(args, 'how').type, 'struct open_how *');
      assert.ok(named(args, 'how').variablesReference > 0, 'a struct pointer expands');
    }
    const top = await topFrame(s);
    assert.equal((await evaluate(s, 'current->comm', top.id)).result, `"${comm}"`);
    assert.equal((await evaluate(s, 'init_task.comm', top.id)).result, '"swapper/0"');
    assert.equal((await evaluate(s, 'sizeof(current->comm)', top.id)).result, '16');
    assert.equal((await evaluate(s, '$task(1)->comm', top.id)).result, '"init"');
    assert.equal((await evaluate(s, `$task(${pid})->pid == current->pid`, top.id)).result, '1');
    const noSuch = await s.dc.evaluateRequest({ expression: 'no_such_symbol_here', frameId: top.id, context: 'watch' }).then(() => '', (e: Error) => e.message);
    assert.match(noSuch, /no symbol 'no_such_symbol_here'/);
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });

    // 2. setVariable on a global in the Statics scope of kernel/sysctl.c.
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'proc_dointvec' }] });
    const inSysctl = await stopAfter(s, 'proc_dointvec (the loop reading /proc/sys/kernel/panic)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(inSysctl.body.reason, 'function breakpoint');
    const sysctlFrame = await topFrame(s);
    assert.match(sysctlFrame.source?.path ?? '', /kernel\/sysctl\.c$/);
    const statics = (await s.dc.scopesRequest({ frameId: sysctlFrame.id })).body.scopes.find((x) => x.name === 'Statics');
    assert.ok(statics, 'a Statics scope');
    const panicVar = named((await s.dc.variablesRequest({ variablesReference: statics.variablesReference })).body.variables, 'panic_timeout');
    assert.equal(panicVar.value, '-1');
    const set = await s.dc.setVariableRequest({ variablesReference: statics.variablesReference, name: 'panic_timeout', value: '42' });
    assert.equal(set.body.value, '42');
    assert.equal((await evaluate(s, 'panic_timeout', sysctlFrame.id)).result, '42');
    await s.dc.setFunctionBreakpointsRequest({ breakpoints: [] });

    // 3. Break on Value Change on a struct member, from the Variables view.
    const uts = await evaluate(s, 'init_uts_ns.name', sysctlFrame.id);
    assert.ok(uts.variablesReference > 0);
    const members = (await s.dc.variablesRequest({ variablesReference: uts.variablesReference })).body.variables;
    assert.equal(named(members, 'sysname').value, '"Linux"');
    assert.equal(named(members, 'nodename').value, '"start"');
    const info = (await s.dc.dataBreakpointInfoRequest({ variablesReference: uts.variablesReference, name: 'nodename' })).body;
    assert.ok(info.dataId, `nodename can be watched: ${info.description}`);
    const dbp = (await s.dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.dataId!, accessType: 'write' }] })).body.breakpoints[0];
    assert.ok(dbp.verified, dbp.message);
    const written = await stopAfter(s, 'the write to init_uts_ns.name.nodename (hostname in the guest)', () => s.dc.continueRequest({ threadId: 1 }));
    assert.equal(written.body.reason, 'data breakpoint', s.console());
    assert.match(s.stdout(), /PANIC 42 HOST start/, 'the guest printed the value setVariable wrote');
    await s.dc.setDataBreakpointsRequest({ breakpoints: [] });
    await s.dc.continueRequest({ threadId: 1 });
    await waitForText(s.stdout, /HOST changed-by-guest/, 60_000, 'the new hostname');
  } finally {
    await finishDap(s);
  }
});
