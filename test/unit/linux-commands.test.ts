// The Debug Console's kernel commands on a fake kernel: which lines are
// commands (lx- names too) and which are C, help, ps, dmesg N, cmdline,
// version, iomem (with a loop in the tree), per-cpu, and a kernel without
// what a command needs answering one sentence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linuxCommands, type CommandEnv } from '../../debug-adapter/linux/commands';
import { at, FakeMemory, ptr, struct, T, variable, array } from './helpers/c-fixtures';
import { kernelOf, prbGlobals, taskGlobals, writeRing, writeTasks } from './helpers/linux-fixtures';
import type { RecordType, VariableInfo } from '../../debug-adapter/dwarf/model';

const resource: RecordType = struct('resource', 64, () => [
  ['start', T.ulong, 0], ['end', T.ulong, 8], ['name', ptr(T.char), 16], ['flags', T.ulong, 24], ['desc', T.ulong, 32],
  ['parent', ptr(resource), 40], ['sibling', ptr(resource), 48], ['child', ptr(resource), 56],
]);
const IOMEM = 0xffffffff82e00000n;
const res = (n: number): bigint => 0xffff888003000000n + BigInt(n) * 0x100n;

function fakeKernel(): { mem: FakeMemory; globals: VariableInfo[] } {
  const mem = new FakeMemory();
  writeTasks(mem, [{ pid: 1, comm: 'init', state: 1 }], [1, 0]);
  writeRing(mem, [
    { text: 'Linux version 6.1.0', tsNsec: 0n, level: 5 },
    { text: 'second', tsNsec: 2_000n, level: 6 },
    { text: 'third', tsNsec: 3_000_000n, level: 6 },
  ], { countBits: 3, sizeBits: 8 });
  mem.u64(0xffffffff82e10000n, 0xffffffff82e10100n).str(0xffffffff82e10100n, 'console=hvc0 nokaslr');
  mem.str(0xffffffff82e20000n, 'Linux version 6.1.0 (root@kvmdbg) #1 SMP\n');
  // iomem: System RAM [0, 0x9ffff] > Kernel code; Reserved; and PCI Bus.
  const put = (n: number, start: bigint, end: bigint, name: string, sibling: number, child: number): void => {
    mem.map(res(n), 64).u64(res(n), start).u64(res(n) + 8n, end).u64(res(n) + 16n, res(n) + 0x80n).str(res(n) + 0x80n, name)
      .u64(res(n) + 48n, sibling ? res(sibling) : 0n).u64(res(n) + 56n, child ? res(child) : 0n);
  };
  mem.map(IOMEM, 64).u64(IOMEM + 8n, 0xffffffffffffffffn).u64(IOMEM + 56n, res(1));
  put(1, 0n, 0x9ffffn, 'System RAM', 3, 2);
  put(2, 0x1000000n, 0x1ffffffn, 'Kernel code', 0, 0);
  put(3, 0xfeb00000n, 0xfeb001ffn, 'LNRO0005:00', 0, 0);
  // A per-cpu int in both CPUs' areas (__per_cpu_offset from writeTasks).
  mem.u32(0xffff88807fc00000n + 0x2000n, 11).u32(0xffff88807fd00000n + 0x2000n, 22);
  const globals = [
    ...taskGlobals(), ...prbGlobals(),
    variable('saved_command_line', ptr(T.char), at(0xffffffff82e10000n)),
    variable('linux_banner', array(T.char, 64), at(0xffffffff82e20000n)),
    variable('iomem_resource', resource, at(IOMEM)),
    variable('cpu_number', T.int, at(0x2000n)),
  ];
  return { mem, globals };
}

function env(mem: FakeMemory, globals: VariableInfo[]): CommandEnv {
  return { kernel: async () => kernelOf(mem, globals), cpus: 2 };
}

test('which console lines are commands: names, lx- names, arguments; C stays C', () => {
  const c = linuxCommands();
  assert.equal(c.parse('ps')?.command.name, 'ps');
  assert.equal(c.parse('  lx-ps ')?.command.name, 'ps');
  assert.deepEqual(c.parse('lx-dmesg 20')?.args, ['20']);
  assert.equal(c.parse('per-cpu runqueues')?.command.name, 'per-cpu');
  assert.equal(c.parse('help')?.command.name, 'help');
  for (const notCommand of ['ps->pid', 'version + 1', 'dmesg[0]', 'init_task.pid', '$task(1)->comm', 'lx-help2', '']) {
    assert.equal(c.parse(notCommand), undefined, notCommand);
  }
});

test('help lists every command, and lsmod can join the registry', async () => {
  const c = linuxCommands();
  c.add({ name: 'lsmod', usage: 'lsmod', help: 'loaded modules', run: async () => 'kvmdbg_mod' });
  const { mem, globals } = fakeKernel();
  const help = await c.run('help', env(mem, globals));
  assert.equal(help, [
    "Kernel commands (also as lx-NAME, as in gdb's scripts); anything else is a C expression:",
    "  ps               the kernel's tasks: pid, tgid, CPU, state, name (running ones marked)",
    '  dmesg [N]        the kernel log (its last N records)',
    '  cmdline          the kernel command line',
    "  version          the kernel's version banner",
    '  iomem            the physical memory map (/proc/iomem)',
    "  per-cpu VAR      a per-cpu variable's value on each CPU",
    '  lsmod            loaded modules',
  ].join('\n'));
  assert.equal(await c.run('lx-lsmod', env(mem, globals)), 'kvmdbg_mod');
});

test('ps, dmesg N, cmdline, version, iomem and per-cpu answer as the kernel tools do', async () => {
  const c = linuxCommands();
  const { mem, globals } = fakeKernel();
  const e = env(mem, globals);
  assert.equal(await c.run('ps', e), [
    '    PID    TGID CPU  ST COMM             TASK',
    '      0       0   0  R  swapper/0        0xffffffff82c00000  <- running on CPU 1',
    '      1       1   0  S  init             0xffff888001001000  <- running on CPU 0',
  ].join('\n'));
  assert.equal(await c.run('dmesg', e), '[    0.000000] Linux version 6.1.0\n[    0.000002] second\n[    0.003000] third');
  assert.equal(await c.run('lx-dmesg 1', e), '[    0.003000] third');
  assert.equal(await c.run('cmdline', e), 'console=hvc0 nokaslr');
  assert.equal(await c.run('version', e), 'Linux version 6.1.0 (root@kvmdbg) #1 SMP');
  assert.equal(await c.run('iomem', e), '00000000-0009ffff : System RAM\n  01000000-01ffffff : Kernel code\nfeb00000-feb001ff : LNRO0005:00');
  assert.equal(await c.run('per-cpu cpu_number', e), 'cpu 0: 11\ncpu 1: 22');
  assert.equal(await c.run('dmesg x', e), 'dmesg: dmesg takes a number of records, not "x"');
  assert.equal(await c.run('per-cpu nosuch', e), "per-cpu: the kernel's DWARF describes no variable 'nosuch'");
});

test('a loop in the iomem tree ends with a note', async () => {
  const { mem, globals } = fakeKernel();
  mem.u64(res(3) + 48n, res(1));
  assert.equal(await linuxCommands().run('iomem', env(mem, globals)),
    '00000000-0009ffff : System RAM\n  01000000-01ffffff : Kernel code\nfeb00000-feb001ff : LNRO0005:00\n(the resource tree loops back to 0xffff888003000100)');
});

test('a kernel without what a command needs: one sentence each', async () => {
  const c = linuxCommands();
  const e = env(new FakeMemory(), []);
  assert.equal(await c.run('ps', e), "ps: the task list needs the kernel's 'init_task', which its DWARF does not describe");
  assert.equal(await c.run('dmesg', e), "dmesg: dmesg needs the kernel's printk buffer ('prb' or 'log_buf'), which its DWARF does not describe");
  assert.equal(await c.run('cmdline', e), "cmdline: cmdline needs the kernel's 'saved_command_line', which its DWARF does not describe");
  assert.equal(await c.run('version', e), "version: version needs the kernel's 'linux_banner', which its DWARF does not describe");
  assert.equal(await c.run('iomem', e), "iomem: iomem needs the kernel's 'iomem_resource', which its DWARF does not describe");
});
