import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PacketDecoder, checksum, compressRunLength, compressRunLengthText, encodePacket, escapeBinary, expandRunLength, unescapeBinary, type DecodedEvent,
} from '../../vmm/gdb/packets';
import { fuzzRounds, fuzzSeed } from './helpers/fuzz-budget';

const b = (s: string) => Buffer.from(s, 'latin1');
const packets = (evs: DecodedEvent[]) => evs.filter((e) => e.type === 'packet').map((e) => Buffer.from((e as { data: Uint8Array }).data).toString('latin1'));

test('checksum is the byte sum mod 256 and packets frame as $data#cs', () => {
  assert.equal(checksum(b('OK')), 0x9a);
  assert.equal(Buffer.from(encodePacket('OK')).toString(), '$OK#9a');
  assert.equal(Buffer.from(encodePacket('')).toString(), '$#00');
  assert.equal(Buffer.from(encodePacket('qSupported:multiprocess+')).toString().slice(-3), '#' + checksum(b('qSupported:multiprocess+')).toString(16).padStart(2, '0'));
});

test('decoder yields packets, acks, naks and interrupts, with garbage in between ignored', () => {
  const d = new PacketDecoder();
  const evs = d.push(b('+junk$OK#9a-\x03$g#67+'));
  assert.deepEqual(evs.map((e) => e.type), ['ack', 'packet', 'nak', 'interrupt', 'packet', 'ack']);
  assert.deepEqual(packets(evs), ['OK', 'g']);
});

test('packets split at every possible byte boundary decode the same', () => {
  const x = b('X1000,2:}]}\x03');
  const full = Buffer.concat([b('$m1000,4#'), b(checksum(b('m1000,4')).toString(16).padStart(2, '0')), b('\x03$'), x, b('#' + checksum(x).toString(16).padStart(2, '0'))]);
  const whole = new PacketDecoder().push(full);
  assert.deepEqual(whole.map((e) => e.type), ['packet', 'interrupt', 'packet']);
  for (let cut = 0; cut <= full.length; cut++) {
    const d = new PacketDecoder();
    const evs = [...d.push(full.subarray(0, cut)), ...d.push(full.subarray(cut))];
    assert.deepEqual(evs, whole, `split at ${cut}`);
  }
  // And byte by byte.
  const d = new PacketDecoder();
  const evs: DecodedEvent[] = [];
  for (const c of full) evs.push(...d.push(Uint8Array.of(c)));
  assert.deepEqual(evs, whole);
});

test('0x03 inside a packet is data, not an interrupt', () => {
  const x = b('X0,1:\x03');
  const evs = new PacketDecoder().push(encodePacket(x));
  assert.deepEqual(evs.map((e) => e.type), ['packet']);
});

test('a bad checksum is a NAK-worthy error and the next packet still decodes', () => {
  const d = new PacketDecoder();
  const evs = d.push(b('$OK#00$OK#9a$OK#zz'));
  assert.equal(evs[0].type, 'error');
  assert.equal((evs[0] as { nak: boolean }).nak, true);
  assert.deepEqual(packets(evs), ['OK']);
  assert.equal(evs[2].type, 'error');
});

test('an overlong packet is dropped with an error, then decoding resumes', () => {
  const d = new PacketDecoder(16);
  const long = 'x'.repeat(40);
  const evs = d.push(Buffer.concat([encodePacket(long), encodePacket('ok')]));
  assert.equal(evs[0].type, 'error');
  assert.match((evs[0] as { reason: string }).reason, /longer than 16/);
  assert.deepEqual(packets(evs), ['ok']);
});

test('a "$" inside a packet restarts framing at it', () => {
  const evs = new PacketDecoder().push(Buffer.concat([b('$abc'), encodePacket('OK')]));
  assert.deepEqual(evs.map((e) => e.type), ['error', 'packet']);
  assert.deepEqual(packets(evs), ['OK']);
});

test('run-length encoding: "0* " is four zeros; bad counts are errors', () => {
  assert.equal(Buffer.from(expandRunLength(b('0* ')) as Uint8Array).toString(), '0000');
  assert.equal(Buffer.from(expandRunLength(b('a*"b')) as Uint8Array).toString(), 'aaaaaab');
  assert.equal(typeof expandRunLength(b('*  ')), 'string');
  assert.equal(typeof expandRunLength(b('a*')), 'string');
  assert.equal(typeof expandRunLength(b('a*\x01')), 'string');
  assert.equal(typeof expandRunLength(b('a*~a*~a*~'), 100), 'string');
  // Through the decoder.
  const evs = new PacketDecoder().push(b(`$0* #${checksum(b('0* ')).toString(16)}`));
  assert.deepEqual(packets(evs), ['0000']);
});

test('compressRunLength round-trips and never emits # or $ as a count', () => {
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let n = 0; n < 300; n++) {
    const parts: string[] = [];
    const len = rnd() % 20;
    for (let i = 0; i < len; i++) parts.push(String.fromCharCode(0x30 + (rnd() % 4)).repeat(1 + (rnd() % 120)));
    const s = parts.join('');
    const c = compressRunLength(b(s));
    assert.ok(!c.includes(0x23) && !c.includes(0x24), 'no # or $');
    assert.equal(Buffer.from(expandRunLength(c) as Uint8Array).toString(), s);
    // And through framing.
    const evs = new PacketDecoder(1 << 20).push(encodePacket(s, { compress: true }));
    assert.deepEqual(packets(evs), [s]);
  }
  assert.ok(compressRunLength(b('0'.repeat(64))).length < 10);
});

test('compressRunLengthText (strings, by regular expression) encodes exactly as compressRunLength (bytes)', () => {
  let seed = 11;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  const alphabet = '0af*#$}\x00\xff';
  for (let n = 0; n < 500; n++) {
    const parts: string[] = [];
    const len = rnd() % 24;
    for (let i = 0; i < len; i++) parts.push(alphabet[rnd() % alphabet.length].repeat(1 + (rnd() % 130)));
    const s = parts.join('');
    assert.equal(Buffer.from(compressRunLengthText(s), 'latin1').toString('hex'), Buffer.from(compressRunLength(Buffer.from(s, 'latin1'))).toString('hex'), JSON.stringify(s));
  }
  for (let run = 1; run <= 200; run++) {
    const s = 'x' + '7'.repeat(run) + 'y';
    assert.equal(Buffer.from(compressRunLengthText(s), 'latin1').toString('hex'), Buffer.from(compressRunLength(b(s))).toString('hex'), `run of ${run}`);
  }
});

test('binary escapes: # $ } * become } + (byte ^ 0x20)', () => {
  const data = Uint8Array.of(0x23, 0x24, 0x7d, 0x2a, 0x00, 0x03, 0xff);
  const esc = escapeBinary(data);
  assert.deepEqual([...esc], [0x7d, 0x03, 0x7d, 0x04, 0x7d, 0x5d, 0x7d, 0x0a, 0x00, 0x03, 0xff]);
  assert.deepEqual([...unescapeBinary(esc)!], [...data]);
  assert.equal(unescapeBinary(Uint8Array.of(0x41, 0x7d)), undefined);
  // Every byte value survives escape + framing + decode + unescape.
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const evs = new PacketDecoder().push(encodePacket(escapeBinary(all)));
  assert.equal(evs.length, 1);
  assert.deepEqual([...unescapeBinary((evs[0] as { data: Uint8Array }).data)!], [...all]);
});

test('the decoder never throws on random bytes (fixed seed)', () => {
  let seed = fuzzSeed(12345, 20) & 0x7fffffff;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  const d = new PacketDecoder(64);
  const alphabet = b('$#}*+-\x03ab0f9');
  for (let i = 0, n = fuzzRounds(5000); i < n; i++) {
    const chunk = new Uint8Array(rnd() % 50);
    for (let j = 0; j < chunk.length; j++) chunk[j] = rnd() % 3 === 0 ? alphabet[rnd() % alphabet.length] : rnd() & 0xff;
    d.push(chunk);
  }
  // Still in sync after the noise once a clean packet arrives after a "#xx" boundary.
  d.push(b('#00'));
  assert.deepEqual(packets(d.push(encodePacket('OK'))), ['OK']);
});
