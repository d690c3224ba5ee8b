import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { DeviceLog, MachineControl } from '../../vmm/bus/device';
import {
  I8042, I8042_COMMAND_OFFSET, I8042_COMMAND_PORT, I8042_CTR_AUXDIS, I8042_CTR_KBDDIS, I8042_DATA_PORT,
  I8042_STR_AUXDATA, I8042_STR_IBF, I8042_STR_OBF, I8042_STR_SYSFLAG,
} from '../../vmm/devices/i8042';

function kbc() {
  const resets: string[] = [];
  const errors: string[] = [];
  const control: MachineControl = { exit: () => assert.fail('no exit expected'), reset: (r) => resets.push(r) };
  const log: DeviceLog = { info: () => {}, guestError: (m) => errors.push(m) };
  const dev = new I8042({ control, log });
  const bus = new Bus('pio');
  bus.register(I8042_DATA_PORT, 1, dev);
  bus.register(I8042_COMMAND_PORT, 1, dev, I8042_COMMAND_OFFSET);
  const status = () => bus.read(0x64, 1);
  const command = (c: number) => bus.write(0x64, 1, c);
  const data = () => bus.read(0x60, 1);
  const writeData = (v: number) => bus.write(0x60, 1, v);
  /** Linux's i8042_command: send, then poll OBF (which must already be set) and read. */
  const ask = (c: number) => {
    command(c);
    assert.equal(status() & I8042_STR_OBF, I8042_STR_OBF, `a result for command 0x${c.toString(16)}`);
    return data();
  };
  return { dev, resets, errors, status, command, data, writeData, ask };
}

test('controller self-test 0xAA answers 0x55, keyboard/aux interface tests answer 0x00', () => {
  const { ask, status } = kbc();
  assert.equal(ask(0xaa), 0x55);
  assert.equal(status() & I8042_STR_SYSFLAG, I8042_STR_SYSFLAG);
  assert.equal(ask(0xab), 0x00);
  assert.equal(ask(0xa9), 0x00);
});

test('OBF clears after the data is read, and IBF never reads set (Linux probing does not hang)', () => {
  const { command, status, data } = kbc();
  assert.equal(status() & (I8042_STR_OBF | I8042_STR_IBF), 0);
  command(0xaa);
  assert.equal(status() & I8042_STR_IBF, 0);
  assert.equal(data(), 0x55);
  assert.equal(status() & I8042_STR_OBF, 0);
  assert.equal(data(), 0, 'an empty output buffer reads 0');
});

test('command byte read (0x20) and write (0x60)', () => {
  const { ask, command, writeData, status } = kbc();
  command(0x60);
  writeData(0x47);
  assert.equal(status() & I8042_STR_OBF, 0, 'writing the command byte produces no result');
  assert.equal(ask(0x20), 0x47);
});

test('enable/disable commands set and clear the port-disable bits', () => {
  const { ask, command } = kbc();
  command(0xad);
  command(0xa7);
  assert.equal(ask(0x20) & (I8042_CTR_KBDDIS | I8042_CTR_AUXDIS), I8042_CTR_KBDDIS | I8042_CTR_AUXDIS);
  command(0xae);
  command(0xa8);
  assert.equal(ask(0x20) & (I8042_CTR_KBDDIS | I8042_CTR_AUXDIS), 0);
});

test('0xFE on 0x64 resets the machine', () => {
  const { command, resets } = kbc();
  command(0xfe);
  assert.equal(resets.length, 1);
  assert.match(resets[0], /i8042/);
  command(0xff);
  assert.equal(resets.length, 1, '0xFF pulses no line');
});

test('output port write (0xD1) with bit 0 clear resets; with it set, it only moves A20', () => {
  const { dev, command, writeData, resets, ask } = kbc();
  command(0xd1);
  writeData(0x01);
  assert.equal(resets.length, 0);
  assert.equal(dev.a20, false);
  assert.equal(ask(0xd0), 0x01);
  command(0xd1);
  writeData(0xfe);
  assert.equal(resets.length, 1);
});

test('0xD3 echoes a byte as AUX data; bytes for the missing mouse go nowhere', () => {
  const { command, writeData, status, data } = kbc();
  command(0xd3);
  writeData(0x5a);
  assert.equal(status() & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF | I8042_STR_AUXDATA);
  assert.equal(data(), 0x5a);
  command(0xd4);
  writeData(0xff); // mouse reset: no mouse
  assert.equal(status() & I8042_STR_OBF, 0);
});

test('an unknown command is a guest error, logged once', () => {
  const { command, errors } = kbc();
  command(0x90);
  command(0x90);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /0x90/);
});
