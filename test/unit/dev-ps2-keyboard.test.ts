// The PS/2 keyboard behind the i8042: scan codes through translation (set 1)
// and without it (set 2), key release, the special keys, the keyboard's own
// commands, IRQ1, and hostile byte streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { IrqLine, MachineControl } from '../../vmm/bus/device';
import { I8042, I8042_COMMAND_OFFSET, I8042_COMMAND_PORT, I8042_DATA_PORT, I8042_STR_OBF } from '../../vmm/devices/i8042';
import { KEY_CODES, keyIndex, makeCodes, typeText } from '../../vmm/devices/scancodes';

function keyboard() {
  const control: MachineControl = { exit: () => assert.fail('no exit'), reset: () => assert.fail('no reset') };
  const levels: boolean[] = [];
  const irq: IrqLine = { set: (l) => levels.push(l) };
  const dev = new I8042({ control, irq });
  const bus = new Bus('pio');
  bus.register(I8042_DATA_PORT, 1, dev);
  bus.register(I8042_COMMAND_PORT, 1, dev, I8042_COMMAND_OFFSET);
  const press = (code: string, down = true) => dev.keyEvent(keyIndex(code)!, down);
  /** Everything in the output buffer, byte by byte as a guest's handler reads it. */
  const drain = () => {
    const out: number[] = [];
    while (bus.read(0x64, 1) & I8042_STR_OBF) out.push(bus.read(0x60, 1));
    return out;
  };
  const ctr = (v?: number) => {
    bus.write(0x64, 1, 0x20);
    const old = bus.read(0x60, 1);
    if (v !== undefined) { bus.write(0x64, 1, 0x60); bus.write(0x60, 1, v); }
    return old;
  };
  return { dev, bus, press, drain, levels, ctr, send: (v: number) => bus.write(0x60, 1, v) };
}

test('translation on (firmware default): set 1 make and break codes, E0 keys keep their prefix', () => {
  const k = keyboard();
  k.press('KeyA'); k.press('KeyA', false);
  k.press('ArrowUp'); k.press('ArrowUp', false);
  k.press('Enter'); k.press('NumpadEnter');
  assert.deepEqual(k.drain(), [0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8, 0x1c, 0xe0, 0x1c]);
});

test('translation off: set 2 codes, F0 before the released key (after E0)', () => {
  const k = keyboard();
  k.ctr(k.ctr() & ~0x40);
  k.press('KeyA'); k.press('KeyA', false);
  k.press('ArrowUp'); k.press('ArrowUp', false);
  assert.deepEqual(k.drain(), [0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75]);
});

test('PrintScreen and Pause: their own sequences in both sets; Pause sends nothing on release', () => {
  const i = (c: string) => keyIndex(c)!;
  assert.deepEqual(makeCodes(i('PrintScreen'), 1, true), [0xe0, 0x2a, 0xe0, 0x37]);
  assert.deepEqual(makeCodes(i('PrintScreen'), 1, false), [0xe0, 0xb7, 0xe0, 0xaa]);
  assert.deepEqual(makeCodes(i('PrintScreen'), 2, false), [0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12]);
  assert.deepEqual(makeCodes(i('Pause'), 1, true), [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
  assert.deepEqual(makeCodes(i('Pause'), 2, true), [0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77]);
  assert.deepEqual(makeCodes(i('Pause'), 1, false), []);
  assert.deepEqual(makeCodes(9999, 1, true), [], 'an index outside the table sends nothing');
});

test('every key has distinct codes in both sets, and fits the key ring', () => {
  assert.ok(KEY_CODES.length < 128);
  for (const set of [1, 2] as const) {
    const seen = new Map<string, string>();
    KEY_CODES.forEach((code, idx) => {
      const bytes = makeCodes(idx, set, true).join(',');
      assert.ok(bytes.length > 0, code);
      assert.ok(!seen.has(bytes), `set ${set}: ${code} and ${seen.get(bytes)} both send ${bytes}`);
      seen.set(bytes, code);
    });
  }
});

test('keyboard commands: reset (FA AA), identify (translated 41), echo, LEDs, scan code set get/set, unknown = resend', () => {
  const k = keyboard();
  k.send(0xff); assert.deepEqual(k.drain(), [0xfa, 0xaa]);
  k.send(0xf2); assert.deepEqual(k.drain(), [0xfa, 0xab, 0x41]);
  k.send(0xee); assert.deepEqual(k.drain(), [0xee]);
  k.send(0xed); k.send(0x07); assert.deepEqual(k.drain(), [0xfa, 0xfa]);
  assert.equal(k.dev.keyboard.leds, 7);
  k.send(0xf0); k.send(0x00); assert.deepEqual(k.drain(), [0xfa, 0xfa, 0x41], 'set 2, read through translation');
  k.send(0xf0); k.send(0x01); assert.deepEqual(k.drain(), [0xfa, 0xfa]);
  assert.equal(k.dev.keyboard.scanCodeSet, 1);
  k.send(0xf0); k.send(0x09); assert.deepEqual(k.drain(), [0xfa, 0xfe], 'set 9 does not exist');
  k.send(0x42); assert.deepEqual(k.drain(), [0xfe]);
  k.ctr(k.ctr() & ~0x40);
  k.send(0xf2); assert.deepEqual(k.drain(), [0xfa, 0xab, 0x83], 'raw ID without translation');
});

test('scanning off (F5) drops keys; F4 turns it back on; the disabled keyboard port (0xAD) holds bytes back', () => {
  const k = keyboard();
  k.send(0xf5); k.drain();
  k.press('KeyB');
  assert.deepEqual(k.drain(), []);
  k.send(0xf4); k.drain();
  k.bus.write(0x64, 1, 0xad);
  k.press('KeyB');
  assert.deepEqual(k.drain(), []);
  k.bus.write(0x64, 1, 0xae);
  assert.deepEqual(k.drain(), [0x30]);
});

test('IRQ1: raised while a keyboard byte waits, lowered when read, raised again for the next; never with the CTR interrupt bit off', () => {
  const k = keyboard();
  k.press('KeyC');
  assert.deepEqual(k.levels, [true]);
  k.bus.read(0x60, 1);
  assert.deepEqual(k.levels, [true, false]);
  k.press('KeyC', false);
  k.press('KeyD');
  k.bus.read(0x60, 1);
  k.bus.read(0x60, 1);
  assert.deepEqual(k.levels, [true, false, true, false, true, false], 'one edge a byte');
  k.ctr(k.ctr() & ~0x01);
  const before = k.levels.length;
  k.press('KeyE');
  assert.equal(k.levels.length, before, 'no IRQ with CTR bit 0 clear');
  assert.deepEqual(k.drain(), [0x12], 'the byte is still there for polling');
});

test('hostile streams: any byte sequence to 0x60/0x64 (reset and output-port commands aside) never throws and leaves the keyboard usable', () => {
  const k = keyboard();
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 20000; i++) {
    const v = rnd();
    if (i & 1) k.send(v);
    else if (v < 0xd1 || (v > 0xd4 && v < 0xf0)) k.bus.write(0x64, 1, v);
    if (v & 1) k.bus.read(0x60, 1);
    if (v % 7 === 0) k.press(KEY_CODES[v % KEY_CODES.length], (v & 2) === 0);
  }
  k.ctr(0x45); // firmware's configuration again: interrupts, system flag, translation
  k.send(0xff);
  k.drain();
  k.press('KeyA');
  assert.deepEqual(k.drain(), [0x1e], 'set 1 through translation after a reset');
});

test('typeText: a US keyboard, Shift for capitals and symbols, {Name} keys, {{ a brace; an untypeable character is named', () => {
  const codes = (s: string) => typeText(s).map((e) => `${e.down ? '+' : '-'}${e.code}`).join(' ');
  assert.equal(codes('a'), '+KeyA -KeyA');
  assert.equal(codes('A!'), '+ShiftLeft +KeyA -KeyA -ShiftLeft +ShiftLeft +Digit1 -Digit1 -ShiftLeft');
  assert.equal(codes('\\n'), '+Backslash -Backslash +KeyN -KeyN');
  assert.equal(codes('{Enter}{F1}\n'), '+Enter -Enter +F1 -F1 +Enter -Enter');
  assert.equal(codes('{{'), '+ShiftLeft +BracketLeft -BracketLeft -ShiftLeft');
  assert.throws(() => typeText('é'), /cannot type "é"/);
  assert.throws(() => typeText('{Nope}'), /\{Nope\}: no such key/);
});
