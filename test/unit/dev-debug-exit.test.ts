import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { MachineControl } from '../../vmm/bus/device';
import { DebugExit, DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT } from '../../vmm/devices/debug-exit';

function setup() {
  const exits: [number, string][] = [];
  const control: MachineControl = { exit: (s, r) => exits.push([s, r]), reset: () => assert.fail('no reset expected') };
  const bus = new Bus('pio');
  bus.register(DEBUG_EXIT_PORT, DEBUG_EXIT_PORT_COUNT, new DebugExit(control));
  return { bus, exits };
}

test('debug-exit: writing 0x10 ends the VM with status 0x21', () => {
  const { bus, exits } = setup();
  bus.write(0xf4, 1, 0x10);
  assert.deepEqual(exits, [[0x21, 'guest wrote 16 to the debug-exit port']]);
});

test('debug-exit: the value is masked to the access size, any width, any offset', () => {
  const { bus, exits } = setup();
  bus.write(0xf4, 1, 0x1ff);
  bus.write(0xf4, 4, 0xffffffff);
  bus.write(0xf6, 2, 0);
  assert.deepEqual(exits.map(([s]) => s), [0x1ff, 0x1_ffff_ffff, 1]);
  assert.equal(bus.read(0xf4, 1), 0);
});
