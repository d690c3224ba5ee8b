import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketDecoder, checksum, encodePacket, escapeBinary, unescapeBinary } from '../../vmm/gdb/packets';
import { GdbSession, stopReply } from '../../vmm/gdb/session';
import { G_PACKET_BYTES, I386_LAYOUT, REGISTERS, X86_64_LAYOUT, registerByName, registerLayout, type GdbArch } from '../../vmm/gdb/registers';
import { TARGET_FILES, targetFiles } from '../../vmm/gdb/target-xml';
import { FakeTarget, type FakeOptions } from './helpers/gdb-fake-target';
import { fuzzRounds, fuzzSeed } from './helpers/fuzz-budget';

const tick = () => new Promise((r) => setImmediate(r));

/** A scripted gdb: sends packets, collects the session's replies. */
class Client {
  readonly target: FakeTarget;
  readonly session: GdbSession;
  readonly raw: number[] = [];
  readonly replies: Uint8Array[] = [];
  readonly logs: string[] = [];
  closed = false;
  private readonly decoder = new PacketDecoder(1 << 20);

  constructor(options: FakeOptions & { arch?: GdbArch } = {}) {
    this.target = new FakeTarget(options);
    this.session = new GdbSession(this.target, {
      arch: options.arch,
      send: (bytes) => {
        this.raw.push(...bytes);
        for (const e of this.decoder.push(bytes)) if (e.type === 'packet') this.replies.push(e.data);
      },
      close: () => { this.closed = true; },
      log: (m) => this.logs.push(m),
    });
    this.target.onStop((s) => this.session.handleStop(s));
  }

  /** Send a packet and return the replies it produced (as latin1 strings). */
  async ask(payload: string | Uint8Array): Promise<string[]> {
    return (await this.askRaw(payload)).map((r) => Buffer.from(r).toString('latin1'));
  }

  async askRaw(payload: string | Uint8Array): Promise<Uint8Array[]> {
    const start = this.replies.length;
    this.session.receive(encodePacket(payload));
    await this.session.idle();
    await tick();
    return this.replies.slice(start);
  }

  async one(payload: string): Promise<string> {
    const r = await this.ask(payload);
    assert.equal(r.length, 1, `one reply to ${payload}: ${JSON.stringify(r)}`);
    return r[0];
  }

  async noAck(): Promise<void> {
    assert.equal(await this.one('QStartNoAckMode'), 'OK');
  }
}

const le = (hex: string) => {
  const bytes = Buffer.from(hex, 'hex');
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
};

test('qSupported advertises what we serve, and acks are sent until QStartNoAckMode', async () => {
  const c = new Client();
  const r = await c.one('qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vContSupported+');
  const features = r.split(';');
  const size = features.find((f) => f.startsWith('PacketSize='));
  assert.ok(size && parseInt(size.slice(11), 16) >= 0x4000);
  for (const f of ['qXfer:features:read+', 'swbreak+', 'hwbreak+', 'vContSupported+', 'QStartNoAckMode+']) assert.ok(features.includes(f), f);
  assert.ok(!r.includes('multiprocess'));
  assert.equal(c.raw[0], 0x2b, 'packet acked with +');
  await c.noAck();
  const before = c.raw.length;
  await c.one('vMustReplyEmpty');
  assert.equal(c.raw[before], 0x24, 'no ack in no-ack mode');
});

test('a bad checksum is NAKed in ack mode and the session keeps answering', async () => {
  const c = new Client();
  c.session.receive(Buffer.from('$g#00'));
  await c.session.idle();
  assert.deepEqual(c.raw, [0x2d]);
  assert.equal(c.replies.length, 0);
  assert.equal((await c.one('qAttached')), '1');
});

test('a NAK from gdb retransmits our last packet', async () => {
  const c = new Client();
  await c.one('qAttached');
  const n = c.replies.length;
  c.session.receive(Buffer.from('-'));
  assert.equal(c.replies.length, n + 1);
  assert.equal(Buffer.from(c.replies[n]).toString(), '1');
});

/** Fetch a target description document the way gdb does: 100-byte chunks. */
async function fetchFeature(c: Client, annex: string): Promise<string> {
  let doc = '';
  for (let off = 0; ; off += 100) {
    const [r] = await c.askRaw(`qXfer:features:read:${annex}:${off.toString(16)},64`);
    const body = unescapeBinary(r)!;
    const kind = String.fromCharCode(body[0]);
    doc += Buffer.from(body.subarray(1)).toString();
    assert.ok(body.length - 1 <= 0x64);
    if (kind === 'l') break;
    assert.equal(kind, 'm');
  }
  return doc;
}

/** The registers a set of feature documents declare, in document order. */
function declaredRegisters(docs: string[]): { name: string; bits: number; regnum: number }[] {
  return docs.flatMap((doc) => [...doc.matchAll(/<reg name="(\w+)" bitsize="(\d+)" type="\w+" regnum="(\d+)"/g)]
    .map((m) => ({ name: m[1], bits: Number(m[2]), regnum: Number(m[3]) })));
}

test('target.xml and its included features are served in chunks and declare the g layout', async () => {
  const c = new Client();
  await c.noAck();
  const fetch = (annex: string) => fetchFeature(c, annex);
  const xml = await fetch('target.xml');
  assert.equal(xml, TARGET_FILES.get('target.xml'));
  assert.match(xml, /<architecture>i386:x86-64<\/architecture>/);
  const includes = [...xml.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(includes, ['64bit-core.xml', '64bit-sse.xml', '64bit-segments.xml', 'kvmdbg-sys.xml']);
  const docs: string[] = [];
  for (const f of includes) {
    const doc = await fetch(f);
    assert.equal(doc, TARGET_FILES.get(f));
    docs.push(doc);
  }
  const regs = declaredRegisters(docs);
  assert.match(await fetch('kvmdbg-sys.xml'), /org\.kvmdbg\.x86\.sys/);
  assert.deepEqual(regs.map((r) => r.regnum), [...regs.keys()], 'regnums are 0..n-1 in order');
  assert.equal(regs.reduce((n, r) => n + r.bits / 8, 0), G_PACKET_BYTES);
  assert.deepEqual(regs.map((r) => r.name), REGISTERS.map((r) => r.name));
  assert.equal(await c.one('qXfer:features:read:nope.xml:0,100'), 'E00');
  assert.equal(await c.one('qXfer:features:read:target.xml:zz'), 'E00');
  assert.equal(await c.one('qXfer:features:read:target.xml:100000,100'), 'l');
});

test('g: the fixed x86-64 layout (rip at 128, eflags 136, cs 140, fs_base 536, cr3 576)', async () => {
  const c = new Client();
  await c.noAck();
  const g = await c.one('g');
  assert.equal(g.length, G_PACKET_BYTES * 2);
  const at = (off: number, bytes: number) => le(g.slice(off * 2, (off + bytes) * 2));
  assert.equal(at(0, 8), 0x1111n, 'rax');
  assert.equal(at(7 * 8, 8), 0x8000n, 'rsp is register 7');
  assert.equal(at(6 * 8, 8), 0x7000n, 'rbp is register 6');
  assert.equal(at(15 * 8, 8), 0xfedcba9876543210n, 'r15');
  assert.equal(at(128, 8), 0x1000n, 'rip');
  assert.equal(at(136, 4), 0x246n, 'eflags');
  assert.equal(at(140, 4), 0x10n, 'cs');
  assert.equal(at(144, 4), 0x18n, 'ss');
  assert.equal(at(536, 8), 0x7f0000001000n, 'fs_base');
  assert.equal(at(544, 8), 0xffff888000000000n, 'gs_base');
  assert.equal(at(552, 8), 0xffffffff81000000n, 'k_gs_base');
  assert.equal(at(560, 8), 0x80050033n, 'cr0');
  assert.equal(at(576, 8), 0x9000n, 'cr3');
  assert.equal(at(600, 8), 0xd01n, 'efer');
  for (const [name, off] of [['rip', 128], ['eflags', 136], ['cs', 140], ['fs_base', 536], ['cr3', 576]] as const) {
    assert.equal(registerByName(name).offset, off, name);
  }
  // No FPU access: x87/SSE registers are unavailable.
  const st0 = registerByName('st0');
  assert.equal(g.slice(st0.offset * 2, st0.offset * 2 + 20), 'x'.repeat(20));
});

test('the layout does not change with the vCPU mode (real mode too)', async () => {
  const c = new Client();
  await c.noAck();
  const long = await c.one('g');
  const s = c.target.sregs.get(0)!;
  c.target.sregs.set(0, { ...s, cr0: 0x10n, efer: 0n, cs: { ...s.cs, selector: 0xf000, base: 0xf0000n, l: false, db: false } });
  c.target.regs.get(0)!.rip = 0xfff0n;
  const real = await c.one('g');
  assert.equal(real.length, long.length);
  assert.equal(le(real.slice(256, 272)), 0xfff0n);
  assert.equal(le(real.slice(280, 288)), 0xf000n);
});

test('x87/SSE registers come from the FPU when the target has it', async () => {
  const c = new Client({ fpu: true });
  await c.noAck();
  const st0 = registerByName('st0');
  assert.equal(await c.one(`p${st0.regnum.toString(16)}`), '0000000000000080ff3f');
  assert.equal(await c.one(`p${registerByName('xmm1').regnum.toString(16)}`), '0102030405060708090a0b0c0d0e0f10');
  assert.equal(le(await c.one(`p${registerByName('mxcsr').regnum.toString(16)}`)), 0x1f80n);
  // ftag: TOP=7, physical register 7 holds st0 = 1.0 (valid, 00); the rest empty (11).
  assert.equal(le(await c.one(`p${registerByName('ftag').regnum.toString(16)}`)), 0x3fffn);
  assert.equal(await c.one(`P${registerByName('xmm2').regnum.toString(16)}=${'ab'.repeat(16)}`), 'OK');
  assert.equal(c.target.fpus.get(0)!.xmm[32], 0xab);
});

test('p/P by register number; P writes only that register', async () => {
  const c = new Client();
  await c.noAck();
  assert.equal(le(await c.one('p10')), 0x1000n, 'p 0x10 = rip');
  assert.equal(le(await c.one('p3e')), 0x9000n, 'p 0x3e = cr3');
  assert.equal(await c.one('p27'), 'xxxxxxxx', 'fop unavailable without FPU');
  assert.equal(await c.one('P10=0020000000000000'), 'OK');
  assert.equal(c.target.regs.get(0)!.rip, 0x2000n);
  assert.equal(c.target.calls.at(-1), 'writeRegisters 0 rip');
  assert.equal(await c.one('P3e=00a0000000000000'), 'OK');
  assert.equal(c.target.sregs.get(0)!.cr3, 0xa000n);
  assert.equal(await c.one('P27=01000000'), 'E01', 'FPU not writable');
  assert.equal(await c.one('P3b=0100000000000000'), 'OK', 'k_gs_base through writeKernelGsBase');
  assert.equal(c.target.kernelGsBase, 1n);
  assert.equal(await c.one('P12=20000000'), 'OK', 'cs selector');
  assert.equal(c.target.sregs.get(0)!.cs.selector, 0x20);
  assert.equal(await c.one('p999'), 'E16');
  assert.equal(await c.one('P10=00'), 'E16');
  assert.equal(await c.one('Pzz=00'), 'E16');
  assert.equal(await c.one('P10'), 'E16');
});

test('G writes what changed (a g/G round trip writes nothing)', async () => {
  const c = new Client();
  await c.noAck();
  const g = await c.one('g');
  c.target.calls.length = 0;
  assert.equal(await c.one('G' + g), 'OK');
  assert.ok(!c.target.calls.some((x) => x.startsWith('write')), c.target.calls.join('\n'));
  const rbx = g.slice(0, 16) + '9999000000000000' + g.slice(32);
  assert.equal(await c.one('G' + rbx.replace(/x/g, '0')), 'OK');
  assert.equal(c.target.regs.get(0)!.rbx, 0x9999n);
  assert.equal(await c.one('G12'), 'E01');
  assert.equal(await c.one('G' + g + '00'), 'E01');
});

// ---- the i386 layout (32-bit kernels) ----

test('i386 layout: gdb\'s i386 order and offsets, 340-byte g, one table for xml and g', () => {
  const L = I386_LAYOUT;
  assert.equal(L.gPacketBytes, 340);
  assert.equal(X86_64_LAYOUT.gPacketBytes, 608);
  assert.equal(registerLayout('i386'), L);
  const expected: [string, number, number][] = [
    ['eax', 0, 32], ['ecx', 4, 32], ['edx', 8, 32], ['ebx', 12, 32], ['esp', 16, 32], ['ebp', 20, 32], ['esi', 24, 32], ['edi', 28, 32],
    ['eip', 32, 32], ['eflags', 36, 32], ['cs', 40, 32], ['ss', 44, 32], ['ds', 48, 32], ['es', 52, 32], ['fs', 56, 32], ['gs', 60, 32],
    ['st0', 64, 80], ['st7', 134, 80], ['fctrl', 144, 32], ['fop', 172, 32], ['xmm0', 176, 128], ['xmm7', 288, 128], ['mxcsr', 304, 32],
    ['fs_base', 308, 32], ['gs_base', 312, 32], ['cr0', 316, 32], ['cr2', 320, 32], ['cr3', 324, 32], ['cr4', 328, 32], ['efer', 332, 64],
  ];
  for (const [name, offset, bits] of expected) {
    const r = L.byName(name);
    assert.equal(r.offset, offset, name);
    assert.equal(r.bits, bits, name);
  }
  assert.deepEqual(L.registers.map((r) => r.regnum), [...L.registers.keys()]);
  assert.equal(L.registers.length, 48);
  for (const gone of ['rax', 'r8', 'rip', 'xmm8', 'k_gs_base', 'cr8']) assert.throws(() => L.byName(gone), new RegExp(gone));
  // The documents declare exactly the layout, with flags sized by their register.
  const files = targetFiles('i386');
  const xml = files.get('target.xml')!;
  assert.match(xml, /<architecture>i386<\/architecture>/);
  const includes = [...xml.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(includes, ['32bit-core.xml', '32bit-sse.xml', 'kvmdbg-sys.xml']);
  const regs = declaredRegisters(includes.map((f) => files.get(f)!));
  assert.deepEqual(regs.map((r) => [r.name, r.bits, r.regnum]), L.registers.map((r) => [r.name, r.bits, r.regnum]));
  const sys = files.get('kvmdbg-sys.xml')!;
  assert.match(sys, /<flags id="kvmdbg_cr0" size="4">/);
  assert.match(sys, /<flags id="kvmdbg_efer" size="8">/);
  assert.doesNotMatch(files.get('32bit-core.xml')!, /rax|rip/);
  assert.match(TARGET_FILES.get('kvmdbg-sys.xml')!, /<flags id="kvmdbg_cr0" size="8">/, 'x86-64 keeps 64-bit flags');
});

test('i386 session: serves the i386 description and a 340-byte g with the low 32 bits', async () => {
  const c = new Client({ arch: 'i386', mode: 'protected' });
  await c.noAck();
  assert.equal(c.session.arch, 'i386');
  const xml = await fetchFeature(c, 'target.xml');
  assert.equal(xml, targetFiles('i386').get('target.xml'));
  assert.equal(await fetchFeature(c, '32bit-core.xml'), targetFiles('i386').get('32bit-core.xml'));
  assert.equal(await c.one('qXfer:features:read:64bit-core.xml:0,100'), 'E00', 'no x86-64 documents in an i386 session');
  const g = await c.one('g');
  assert.equal(g.length, 340 * 2);
  const at = (name: string) => { const r = I386_LAYOUT.byName(name); return le(g.slice(r.offset * 2, (r.offset + r.bits / 8) * 2)); };
  assert.equal(at('eax'), 0x1111n, 'the low half of rax 0xaaaa000000001111');
  assert.equal(at('ecx'), 0x3333n);
  assert.equal(at('ebx'), 0x2222n);
  assert.equal(at('esp'), 0x8000n);
  assert.equal(at('eip'), 0x1000n);
  assert.equal(at('eflags'), 0x202n);
  assert.equal(at('cs'), 0x08n);
  assert.equal(at('fs_base'), 0x12345000n);
  assert.equal(at('cr0'), 0x80000011n);
  assert.equal(at('cr2'), 0x40000004n);
  assert.equal(at('cr3'), 0x9000n);
  assert.equal(at('efer'), 0n);
  const st0 = I386_LAYOUT.byName('st0');
  assert.equal(g.slice(st0.offset * 2, st0.offset * 2 + 20), 'x'.repeat(20), 'no FPU: unavailable');
  assert.equal(le(await c.one('p8')), 0x1000n, 'p 8 = eip');
  assert.equal(le(await c.one('p2d')), 0x9000n, 'p 0x2d = cr3');
  assert.equal(await c.one('p30'), 'E16', 'register 48 does not exist');
});

test('i386 session: the layout stays i386 when the vCPU is in long mode (values truncated)', async () => {
  const c = new Client({ arch: 'i386' });
  await c.noAck();
  c.target.regs.get(0)!.rip = 0xffffffff81000010n;
  const g = await c.one('g');
  assert.equal(g.length, 340 * 2);
  assert.equal(le(g.slice(32 * 2, 36 * 2)), 0x81000010n, 'eip: the low 32 bits of rip');
  assert.equal(le(g.slice(308 * 2, 312 * 2)), 0x00001000n, 'fs_base: the low 32 bits');
  assert.equal(le(g.slice(332 * 2, 340 * 2)), 0xd01n, 'efer: all 64 bits');
});

test('i386 session: P and G write 32-bit registers and keep the upper halves', async () => {
  const c = new Client({ arch: 'i386', mode: 'protected', fpu: true });
  await c.noAck();
  c.target.sregs.get(0)!.cr3 = 0x1_0000_9000n;  // bits the 32-bit cr3 cannot show
  assert.equal(await c.one('P0=34120000'), 'OK');
  assert.equal(c.target.regs.get(0)!.rax, 0xaaaa000000001234n);
  assert.equal(c.target.calls.at(-1), 'writeRegisters 0 rax');
  assert.equal(await c.one('P8=00200000'), 'OK');
  assert.equal(c.target.regs.get(0)!.rip, 0x2000n);
  assert.equal(await c.one('P2d=00a00000'), 'OK');
  assert.equal(c.target.sregs.get(0)!.cr3, 0x1_0000_a000n, 'cr3 keeps its upper half');
  const fs = c.target.sregs.get(0)!.fs;
  c.target.sregs.get(0)!.fs = { ...fs, base: 0x7_1234_5000n };
  assert.equal(await c.one('P29=00300000'), 'OK', 'fs_base');
  assert.equal(c.target.sregs.get(0)!.fs.base, 0x7_0000_3000n);
  assert.equal(c.target.sregs.get(0)!.fs.selector, 0x10, 'only the base changes');
  assert.equal(await c.one('P2f=0100000000000000'), 'OK', 'efer takes 8 bytes');
  assert.equal(c.target.sregs.get(0)!.efer, 1n);
  assert.equal(await c.one('P2f=01000000'), 'E16', 'but not 4');
  assert.equal(await c.one(`P21=${'ab'.repeat(16)}`), 'OK', 'xmm1');
  assert.equal(c.target.fpus.get(0)!.xmm[16], 0xab);
  // A g/G round trip writes nothing; a G changing ebx writes only rbx's low half.
  const g = await c.one('g');
  c.target.calls.length = 0;
  assert.equal(await c.one('G' + g), 'OK');
  assert.ok(!c.target.calls.some((x) => x.startsWith('write')), c.target.calls.join('\n'));
  c.target.regs.get(0)!.rbx = 0x5555_0000_2222n;
  const g2 = await c.one('g');
  assert.equal(await c.one('G' + g2.slice(0, 24) + '99990000' + g2.slice(32)), 'OK');
  assert.equal(c.target.regs.get(0)!.rbx, 0x5555_0000_9999n);
  assert.deepEqual(c.target.calls.filter((x) => x.startsWith('write')), ['writeRegisters 0 rbx']);
  assert.equal(await c.one('G' + g + '00'), 'E01', 'longer than the i386 layout');
});

test('m/M/X: memory, partial reads, binary escapes', async () => {
  const c = new Client();
  await c.noAck();
  assert.equal(await c.one('m1000,4'), '00010203');
  assert.equal(await c.one('m2ffe,4'), '0000', 'partial: the page at 0x3000 is unmapped');
  assert.equal(await c.one('m5000,4'), 'E14');
  assert.equal(await c.one('m1000,0'), '');
  const big = await c.one('m1000,100000');
  assert.ok(big.length / 2 <= 0x4000 / 2 && big.length > 0, 'huge lengths are capped');
  assert.equal(await c.one('M1000,2:abcd'), 'OK');
  assert.equal(await c.one('m1000,2'), 'abcd');
  assert.equal(await c.one('M5000,2:abcd'), 'E14');
  assert.equal(await c.one('M1000,3:abcd'), 'E01');
  assert.equal(await c.one('M1000,2:zzzz'), 'E01');
  assert.equal(await c.one('X1000,0:'), 'OK', 'gdb probes X with an empty write');
  const data = Uint8Array.of(0x23, 0x24, 0x7d, 0x2a, 0x03, 0x00);
  const x = Buffer.concat([Buffer.from('X1100,6:'), escapeBinary(data)]);
  assert.equal(Buffer.from((await c.askRaw(x))[0]).toString(), 'OK');
  assert.equal(await c.one('m1100,6'), '23247d2a0300');
  assert.equal(await c.one('X1100,2:a'), 'E01', 'length mismatch');
  assert.equal(await c.one('mzz,4'), 'E01');
  assert.equal(await c.one('m1000'), 'E01');
  assert.equal(await c.one('m11112222333344445,4'), 'E01', 'address over 64 bits');
  assert.equal(await c.one('mffffffffffffffff,10'), 'E14');
});

test('Z/z map to insert/removeBreakpoint; unsupported types answer empty', async () => {
  const c = new Client();
  await c.noAck();
  assert.equal(await c.one('Z0,1000,1'), 'OK');
  assert.equal(await c.one('Z1,1002,1'), 'OK');
  assert.equal(await c.one('Z2,2000,8'), 'OK');
  assert.equal(await c.one('Z3,2008,4'), 'OK');
  assert.equal(await c.one('Z4,2010,2'), 'OK');
  assert.deepEqual([...c.target.breakpoints].sort(), ['0:1000:1', '1:1002:1', '2:2000:8', '3:2008:4', '4:2010:2']);
  assert.equal(await c.one('z2,2000,8'), 'OK');
  assert.ok(!c.target.breakpoints.has('2:2000:8'));
  c.target.unsupportedTypes.add(4);
  assert.equal(await c.one('Z4,3000,1'), '');
  assert.equal(await c.one('Z0,bad,1'), 'E01');
  assert.equal(await c.one('Z5,1000,1'), 'E01');
  assert.equal(await c.one('Z0,1000'), 'E01');
  assert.equal(await c.one('Z0,10g0,1'), 'E01');
  assert.equal(await c.one('Z0,1000,1;X2,0a'), 'OK', 'conditions are ignored');
});

test('threads: qfThreadInfo, H, T, qC, qThreadExtraInfo; Hg selects the vCPU for g', async () => {
  const c = new Client({ vcpus: 3 });
  await c.noAck();
  assert.equal(await c.one('qfThreadInfo'), 'm1,2,3');
  assert.equal(await c.one('qsThreadInfo'), 'l');
  assert.equal(await c.one('qC'), 'QC1');
  assert.equal(await c.one('T2'), 'OK');
  assert.equal(await c.one('T4'), 'E01');
  assert.equal(await c.one('T0'), 'E01');
  assert.equal(await c.one('Hg3'), 'OK');
  assert.equal(le((await c.one('g')).slice(0, 16)), 0x1113n, 'rax of vCPU 2');
  assert.equal(await c.one('Hg9'), 'E01');
  assert.equal(await c.one('Hc-1'), 'OK');
  assert.equal(await c.one('Hg0'), 'OK');
  assert.equal(Buffer.from(await c.one('qThreadExtraInfo,2'), 'hex').toString(), 'vCPU 1 (long mode)');
  assert.equal(await c.one('qAttached'), '1');
  assert.equal(await c.one('qSymbol::'), 'OK');
});

test('? reports the current stop; attaching to a running machine interrupts it', async () => {
  const c = new Client();
  assert.equal(await c.one('?'), 'T05thread:1;');
  const r = new Client({ stopped: false });
  await r.noAck();
  const replies = await r.ask('?');
  assert.ok(r.target.calls.includes('interrupt'));
  assert.deepEqual(replies, ['T02thread:1;']);
});

test('vCont: ? lists actions; vCont;s:1 steps vCPU 0 only; c/t apply per thread', async () => {
  const c = new Client({ vcpus: 2 });
  await c.noAck();
  assert.equal(await c.one('vCont?'), 'vCont;c;C;s;S;t');
  const r = await c.ask('vCont;s:1');
  assert.equal(c.target.calls.at(-1), 'resume 0:step');
  assert.deepEqual(r, ['T05thread:1;']);
  assert.equal(c.target.regs.get(0)!.rip, 0x1002n);
  await c.ask('vCont;s:2;c');
  assert.equal(c.target.calls.at(-1), 'resume 1:step 0:continue');
  c.target.emit({ vcpu: 1, stop: { kind: 'swbreak' } });
  assert.equal(Buffer.from(c.replies.at(-1)!).toString(), 'T05thread:2;swbreak:;');
  assert.equal(await c.one('qC'), 'QC2', 'the stopped vCPU becomes current');
  await c.ask('vCont;c:2;t:1');
  assert.equal(c.target.calls.at(-1), 'resume 1:continue 0:stop');
  c.target.emit({ vcpu: 0, stop: { kind: 'hwbreak' } });
  assert.equal(Buffer.from(c.replies.at(-1)!).toString(), 'T05thread:1;hwbreak:;');
  assert.equal(await c.one('vCont;s:7'), 'E01');
  assert.equal(await c.one('vCont;r1000,2000:1'), 'E01');
  assert.equal(await c.one('vCont;x'), 'E01');
  assert.equal(await c.one('vCont;'), 'E01');
});

test('legacy c and s (with an address)', async () => {
  const c = new Client({ vcpus: 2 });
  await c.noAck();
  assert.deepEqual(await c.ask('s'), ['T05thread:1;']);
  assert.equal(c.target.calls.at(-1), 'resume 0:step');
  assert.deepEqual(await c.ask('s3000'), ['T05thread:1;']);
  assert.equal(c.target.regs.get(0)!.rip, 0x3002n);
  assert.deepEqual(await c.ask('c'), []);
  assert.equal(c.target.calls.at(-1), 'resume 0:continue 1:continue');
  c.target.emit({ vcpu: 1, stop: { kind: 'watch', access: 'write', address: 0x2000n } });
  assert.equal(Buffer.from(c.replies.at(-1)!).toString(), 'T05thread:2;watch:2000;');
  assert.equal(await c.one('czz'), 'E01');
});

test('Ctrl-C while running interrupts and yields a stop reply; ignored when stopped', async () => {
  const c = new Client();
  await c.noAck();
  assert.deepEqual(await c.ask('vCont;c'), []);
  const n = c.replies.length;
  c.session.receive(Uint8Array.of(0x03));
  await c.session.idle();
  await tick();
  assert.ok(c.target.calls.includes('interrupt'));
  assert.equal(Buffer.from(c.replies[n]).toString(), 'T02thread:1;');
  c.target.calls.length = 0;
  c.session.receive(Uint8Array.of(0x03));
  await c.session.idle();
  await tick();
  assert.ok(!c.target.calls.includes('interrupt'));
});

test('stop replies for every stop kind', () => {
  assert.equal(stopReply({ vcpu: 0, stop: { kind: 'signal', signal: 5 } }), 'T05thread:1;');
  assert.equal(stopReply({ vcpu: 15, stop: { kind: 'signal', signal: 2 } }), 'T02thread:10;');
  assert.equal(stopReply({ vcpu: 0, stop: { kind: 'swbreak' } }), 'T05thread:1;swbreak:;');
  assert.equal(stopReply({ vcpu: 0, stop: { kind: 'hwbreak' } }), 'T05thread:1;hwbreak:;');
  assert.equal(stopReply({ vcpu: 0, stop: { kind: 'watch', access: 'read', address: 0xffffffff81000000n } }), 'T05thread:1;rwatch:ffffffff81000000;');
  assert.equal(stopReply({ vcpu: 0, stop: { kind: 'watch', access: 'access', address: 0x10n } }), 'T05thread:1;awatch:10;');
  assert.equal(stopReply({ vcpu: 0, stop: { kind: 'exited', status: 3 } }), 'W03');
});

test('the VM exiting while running sends W and a later disconnect does not detach', async () => {
  const c = new Client();
  await c.noAck();
  await c.ask('vCont;c');
  c.target.emit({ vcpu: 0, stop: { kind: 'exited', status: 1 } });
  assert.equal(Buffer.from(c.replies.at(-1)!).toString(), 'W01');
  c.session.disconnected();
  await c.session.idle();
  assert.ok(!c.target.calls.includes('detach'));
});

test('qRcmd: hex command -> O packets with the output, then OK', async () => {
  const c = new Client();
  await c.noAck();
  c.target.monitorOutput = () => 'x'.repeat(20000);
  const r = await c.ask('qRcmd,' + Buffer.from('info exits').toString('hex'));
  assert.equal(r.at(-1), 'OK');
  assert.ok(r.length > 2);
  const text = r.slice(0, -1).map((p) => { assert.equal(p[0], 'O'); return Buffer.from(p.slice(1), 'hex').toString(); }).join('');
  assert.equal(text.length, 20000);
  assert.ok(c.target.calls.includes('monitor info exits'));
  const e = await c.ask('qRcmd,' + Buffer.from('fail').toString('hex'));
  assert.equal(Buffer.from(e[0].slice(1), 'hex').toString(), 'error: no such command\n');
  assert.equal(e[1], 'OK');
  assert.equal(await c.one('qRcmd,zz'), 'E01');
});

test('D detaches (removing our breakpoints) and closes; k kills', async () => {
  const c = new Client();
  await c.noAck();
  await c.one('Z0,1000,1');
  assert.deepEqual(await c.ask('D'), ['OK']);
  assert.ok(c.target.detached && c.closed);
  assert.equal(c.target.breakpoints.size, 0);
  assert.deepEqual(await c.ask('g'), [], 'nothing after detach');
  const k = new Client();
  assert.deepEqual(await k.ask('k'), []);
  assert.ok(k.target.killed && k.closed);
  const v = new Client();
  assert.deepEqual(await v.ask('vKill;1'), ['OK']);
  assert.ok(v.target.killed);
});

test('a dropped connection detaches and removes leftover breakpoints', async () => {
  const c = new Client();
  await c.noAck();
  await c.one('Z1,1000,1');
  c.session.disconnected();
  await c.session.idle();
  assert.ok(c.target.detached);
  assert.equal(c.target.breakpoints.size, 0);
});

test('unknown packets get an empty reply', async () => {
  const c = new Client();
  await c.noAck();
  for (const p of ['qTStatus', 'qOffsets', 'vFile:open:', 'Qfoo', '!', 'A', 'bc', 'qXfer:threads:read::0,100', 'vStopped']) {
    assert.equal(await c.one(p), '', p);
  }
});

test('random packets (fixed seed) never throw and the session keeps answering', async () => {
  let seed = fuzzSeed(4242, 21) & 0x7fffffff;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  const c = new Client({ vcpus: 2, fpu: true });
  const prefixes = ['m', 'M', 'X', 'g', 'G', 'p', 'P', 'Z', 'z', 'H', 'T', 'vCont;', 'qXfer:features:read:', 'qRcmd,', 'c', 's', 'C', 'S', 'q', 'v', '?', 'Hg', 'qThreadExtraInfo,'];
  const alphabet = '0123456789abcdefxX,:;=-#$}*\x03 zZ';
  for (let i = 0, n = fuzzRounds(3000); i < n; i++) {
    let body = rnd() % 4 === 0 ? '' : prefixes[rnd() % prefixes.length];
    const len = rnd() % 40;
    for (let j = 0; j < len; j++) body += rnd() % 5 === 0 ? String.fromCharCode(rnd() & 0xff) : alphabet[rnd() % alphabet.length];
    if (/^(D|k|vKill)/.test(body)) body = 'x' + body;
    const bytes = Buffer.from(body, 'latin1');
    const framed = rnd() % 10 === 0 ? Buffer.from('$' + body + '#' + (checksum(bytes) ^ 1).toString(16).padStart(2, '0'), 'latin1')
      : rnd() % 10 === 0 ? bytes : Buffer.from(encodePacket(bytes));
    c.session.receive(framed);
    if (i % 50 === 0) { await c.session.idle(); await tick(); }
    // A resume leaves the fake running until stopped: stop it so the session keeps answering.
    if (c.target.running && !c.session.isEnded) { c.target.emit({ vcpu: 0, stop: { kind: 'signal', signal: 5 } }); }
    if (c.session.isEnded) break;
  }
  await c.session.idle();
  await tick();
  if (!c.session.isEnded) {
    c.session.receive(Buffer.from('#00'));
    assert.equal((await c.ask('qAttached')).at(-1), '1');
  }
  // A fresh session fed the same kind of noise, excluding D/k, must still answer at the end.
  seed = fuzzSeed(99, 22) & 0x7fffffff;
  const d = new Client();
  for (let i = 0, n = fuzzRounds(3000); i < n; i++) {
    const len = rnd() % 60;
    const chunk = new Uint8Array(len);
    for (let j = 0; j < len; j++) chunk[j] = rnd() & 0xff;
    d.session.receive(chunk);
  }
  d.session.receive(Buffer.from('#00'));
  await d.session.idle();
  if (d.target.running) d.target.emit({ vcpu: 0, stop: { kind: 'signal', signal: 5 } });
  if (!d.session.isEnded) assert.equal((await d.ask('qAttached')).at(-1), '1');
  assert.ok(!d.session.isEnded && !c.session.isEnded, 'the noise did not end the sessions');
});

test('the fake target reads back what it writes', async () => {
  const t = new FakeTarget();
  assert.equal(await t.writeMemory(0, 0x1ffen, Uint8Array.of(1, 2, 3, 4)), 4);
  const r = await t.readMemory(0, 0x1ffen, 4);
  assert.deepEqual([...r.data], [1, 2, 3, 4]);
  assert.equal((await t.readMemory(0, 0x2ffen, 4)).readable, 2);
});
