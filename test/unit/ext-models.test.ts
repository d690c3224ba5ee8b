// The KVM views' data models and the console text conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exitsModel, formatRate, pageWalkModel, parseAddress, statusText, devicesModel, descriptorTablesModel } from '../../extension/models';
import { memoryReference, isKvmRequest } from '../../debug-adapter/protocol-extensions';

test('exits: kinds by count, rates, last exits newest first with a disassembly reference', () => {
  const nodes = exitsModel({
    total: 1500, elapsedMs: 2000,
    byKind: [{ kind: 'hlt', count: 10, perSecond: 0 }, { kind: 'io', count: 1490, perSecond: 12345 }],
    recent: [{ kind: 'io', rip: '0x100010', detail: 'out 0x3f8 <- 0x41 (1 byte)' }, { kind: 'hlt', rip: '0x100020', detail: 'hlt' }],
  });
  assert.equal(nodes[0].description, '1,500 exits in 2.0 s');
  assert.deepEqual(nodes[0].children!.map((c) => [c.label, c.description]), [['io', '1,490 · 12k/s'], ['hlt', '10']]);
  assert.equal(nodes[1].children![0].label, 'hlt');
  assert.equal(nodes[1].children![1].memoryReference, 'v:0x100010');
});

test('page walk: the result line, then each level with its flags', () => {
  const nodes = pageWalkModel({
    address: '0x100000', mode: '4-level', physical: '0x100000', pageSize: 2 << 20,
    levels: [
      { name: 'PML4', entryAddress: '0x1000', entry: '0x2003', flags: ['P', 'RW'], present: true },
      { name: 'PD', entryAddress: '0x3000', entry: '0x83', flags: ['P', 'RW', 'PS'], present: true },
    ],
  });
  assert.equal(nodes[0].description, '-> physical 0x100000 (2 MiB page)');
  assert.equal(nodes[2].description, '0x2003  P RW');
  assert.equal(nodes[3].memoryReference, 'p:0x3000');
  const miss = pageWalkModel({ address: '0xdead000', mode: '4-level', levels: [], fault: 'PML4 entry not present' });
  assert.equal(miss[0].description, 'not mapped: PML4 entry not present');
});

test('devices and descriptor tables', () => {
  const d = devicesModel({ devices: [{ name: 'uart0', description: '16550A at 0x3f8, IRQ 4', details: [['LCR', '0x03']] }] });
  assert.equal(d[0].children![0].description, '0x03');
  const t = descriptorTablesModel({ gdt: { base: '0x1000', limit: 23, entries: [{ index: 1, raw: '0x00af9a000000ffff', decoded: 'code64 DPL0 P' }] }, idt: { base: '0x0', limit: 0, entries: [] } });
  assert.equal(t[0].description, 'base 0x1000 limit 0x17 (1 entries)');
  assert.equal(t[0].memoryReference, 'v:0x1000');
});

test('status bar text, rates, addresses, memory references', () => {
  assert.equal(statusText({ state: 'running', vcpus: 1, exitsPerSecond: 2500 }), '$(vm-running) KVM running · 1 vCPU · 2.5k/s exits');
  assert.equal(statusText({ state: 'paused', vcpus: 2 }), '$(debug-pause) KVM paused · 2 vCPUs');
  assert.equal(formatRate(3_400_000), '3.4M/s');
  assert.equal(parseAddress(' 0xFFFF_8000 '), 0xffff8000n);
  assert.equal(parseAddress('1000h'), 0x1000n);
  assert.equal(parseAddress('x'), undefined);
  assert.equal(memoryReference('p', 0x1000n), 'p:0x1000');
  assert.equal(memoryReference('v', -1n), 'v:0xffffffffffffffff');
  assert.ok(isKvmRequest('kvm/pageWalk'));
  assert.ok(!isKvmRequest('kvm/nope'));
});
