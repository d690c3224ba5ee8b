// The Tasks, Kernel Log and Modules views' models: task rows with the running one
// marked, log rows with timestamp and level, and the log kept across
// incremental reads (new records appended once, a full read replacing),
// module rows with their address range and symbol status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KernelLog, logNode, modulesModel, tasksModel, timestamp } from '../../extension/linux-models';

test('task rows: pid and name, state and CPU, the running task marked, threads named', () => {
  const nodes = tasksModel({
    live: false,
    tasks: [
      { pid: 1, tgid: 1, comm: 'init', state: 'S', cpu: 0, address: '0xffff888001001000' },
      { pid: 9, tgid: 9, comm: 'app', state: 'R', cpu: 1, runningOn: 1, address: '0xffff888001009000' },
      { pid: 10, tgid: 9, comm: 'app-worker', state: 'D', cpu: 0, address: '0xffff88800100a000', selected: true },
    ],
  });
  assert.deepEqual(nodes.map((n) => [n.pid, n.label, n.description, n.icon]), [
    [1, '1  init', 'S  CPU 0', 'circle-outline'],
    [9, '9  app', 'R  CPU 1  ▶ running on vCPU 1', 'debug-start'],
    [10, '10  app-worker', 'D  CPU 0  (thread of 9)', 'debug-stackframe-focused'],
  ]);
});

test('log rows: timestamp, first line, level; the tooltip has it all', () => {
  const n = logNode({ seq: 4, tsNsec: '1500000000', level: 3, facility: 0, callerId: 0x80000001, text: 'oops\nsecond line\n' });
  assert.equal(n.label, '[    1.500000] oops');
  assert.equal(n.description, 'err');
  assert.equal(n.icon, 'error');
  assert.equal(n.tooltip, '[    1.500000] <3> err, facility 0, caller CPU 1, record 4\noops\nsecond line');
  assert.equal(timestamp('0'), '[    0.000000]');
});

test('the kept log: incremental reads append once, a full read replaces, the newest kept', () => {
  const rec = (seq: number) => ({ seq, tsNsec: String(seq * 1000), level: 6, facility: 0, text: `r${seq}` });
  const log = new KernelLog(3);
  assert.equal(log.lastSeq, undefined);
  log.apply({ records: [rec(0), rec(1)], nextSeq: 2, source: 'printk_ringbuffer', live: true }, false);
  log.apply({ records: [rec(1), rec(2), rec(3)], nextSeq: 4, source: 'printk_ringbuffer', live: true }, true);
  assert.deepEqual(log.nodes().map((n) => n.seq), [1, 2, 3]);
  assert.equal(log.lastSeq, 3);
  log.apply({ records: [rec(7)], nextSeq: 8, source: 'printk_ringbuffer', live: false }, false);
  assert.deepEqual(log.nodes().map((n) => n.seq), [7]);
});

test('module rows: the kernel and each module with its addresses and symbol status; a module without debug info is marked', () => {
  const nodes = modulesModel([
    { id: 'vmlinux', name: 'vmlinux', path: '/build/vmlinux', symbolStatus: 'Symbols loaded' },
    { id: 'kvmdbg_mod', name: 'kvmdbg_mod', path: '/build/kvmdbg_mod.ko', symbolFilePath: '/build/kvmdbg_mod.ko', symbolStatus: 'Symbols loaded', addressRange: '0xffffffffc0000000-0xffffffffc0002000' },
    { id: 'virtio_blk', name: 'virtio_blk', symbolStatus: 'No debug info: no virtio_blk.ko found; searched /lib/modules/6.1.0' },
  ]);
  assert.deepEqual(nodes.map((n) => [n.label, n.description, n.icon]), [
    ['vmlinux', 'Symbols loaded', 'symbol-module'],
    ['kvmdbg_mod', '0xffffffffc0000000-0xffffffffc0002000  Symbols loaded', 'symbol-module'],
    ['virtio_blk', 'No debug info: no virtio_blk.ko found; searched /lib/modules/6.1.0', 'warning'],
  ]);
  assert.equal(nodes[1].tooltip, 'kvmdbg_mod at 0xffffffffc0000000-0xffffffffc0002000\nSymbols loaded\n/build/kvmdbg_mod.ko');
});
