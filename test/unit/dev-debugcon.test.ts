import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import { DebugCon, DEBUGCON_PORT } from '../../vmm/devices/debugcon';

test('bytes written to port 0xE9 come out, and reading it returns 0xE9', () => {
  const out: number[] = [];
  const bus = new Bus('pio');
  bus.register(DEBUGCON_PORT, 1, new DebugCon((b) => { out.push(b); }));
  for (const b of Buffer.from('ok\n')) bus.write(0xe9, 1, b);
  assert.equal(Buffer.from(out).toString(), 'ok\n');
  assert.equal(bus.read(0xe9, 1), 0xe9);
});

test('a wider write to 0xE9 emits its low byte only', () => {
  const out: number[] = [];
  const con = new DebugCon();
  con.output = (b) => { out.push(b); };
  con.write(0, 2, 0x4142);
  assert.deepEqual(out, [0x42]);
});
