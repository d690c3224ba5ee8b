// KVM tier: the legacy PC for hobby and teaching kernels, on our own kernels
// (test/guests/kernel/mp.c, ata.c, pit.c): the MP table found the way xv6
// finds it, with one processor entry a vCPU (--cpus 1 and 2: the CLI caps
// --cpus at this host's CPU count; 4 and more are in the unit tests' bytes),
// the BDA and the RSDP in the BIOS scan area; the ATA PIO disk on ata0
// master and slave (IDENTIFY, LBA28 and LBA48 reads and writes, polled and
// through IRQ 14 on the 8259s or on I/O APIC pin 14, a read past the end), checked in the disk
// image afterwards; the in-kernel 8254 PIT ticking IRQ 0 through the 8259s
// at the programmed rates, and the EOI; and hammer64 with an ATA disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR } from './helpers/guests';
import { STACK_LINE, runCli } from './helpers/cli';

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-pc-legacy-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const mpOutput = (cpus: number) => [
  'kvmdbg mp64 (pvh)',
  'mp: floating pointer at 0x9fc10, config at 0x9fc20, spec 1.4',
  `mp: lapic at 0xfee00000, ${21 + cpus} entries`,
  ...Array.from({ length: cpus }, (_, i) => `mp: cpu ${i} apic ${i}${i === 0 ? ' bsp' : ''}`),
  'mp: bus 0 PCI',
  'mp: bus 1 ISA',
  'mp: ioapic 0 version 0x11 at 0xfec00000',
  'mp: int bus 1 irq 0 -> ioapic 0 pin 0',
  'mp: int bus 1 irq 14 -> ioapic 0 pin 14',
  'mp: local extint -> apic 0xff lint0',
  'mp: local nmi -> apic 0xff lint1',
  `mp: ${cpus} cpus, 16 interrupt assignments (16 irq n -> pin n)`,
  'mp: running on apic 0',
  'bda: com1 0x3f8 com2 0x0 ebda 0x9fc00 base 639K equipment 0x222',
  'acpi: rsdp at 0xf0000, revision 2',
  'mp ok',
  '',
].join('\n');

for (const cpus of [1, 2]) {
  test(`mp64 with --cpus ${cpus}: the MP table lists ${cpus} CPU${cpus > 1 ? 's' : ''} with their APIC ids and the BSP, the IOAPIC and ISA IRQ n on pin n; the BDA and the RSDP are where kernels look`, async () => {
    assert.ok(availableParallelism() >= cpus, `--cpus ${cpus} needs a host with ${cpus} CPUs (this one has ${availableParallelism()}): run it in test/sandbox/run -c ${cpus}`);
    const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'mp64.elf'), '--memory', '64M', '--cpus', String(cpus)], BOOT_MS);
    assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
    assert.equal(r.stdout, mpOutput(cpus));
  });
}

const SECTOR = 512;
const DISK_SECTORS = 4096;
const SLAVE_SECTORS = 100;
/** What the test puts on the disk, and what ata64 writes: the kernel's pattern_byte() and written_byte(). */
const patternByte = (lba: number, i: number) => (lba * 7 + i * 13 + (i >> 8)) & 0xff;
const writtenByte = (lba: number, i: number) => (lba ^ (i * 5) ^ 0xa5) & 0xff;
const sectorsOf = (n: number, byte: (lba: number, i: number) => number) => {
  const b = Buffer.alloc(n * SECTOR);
  for (let lba = 0; lba < n; lba++) for (let i = 0; i < SECTOR; i++) b[lba * SECTOR + i] = byte(lba, i);
  return b;
};

for (const via of ['pic', 'ioapic'] as const) {
  test(`ata64${via === 'ioapic' ? ' ioapic' : ''}: IDENTIFY on ata0 master and slave, LBA28 and LBA48 reads polled and through IRQ 14 (${via === 'pic' ? 'the 8259s' : 'I/O APIC pin 14, as the MP table says'}), writes that land in the image, a read past the end is ERR/IDNF`, async () => {
    const master = join(dir, `ata-master-${via}.img`);
    const slave = join(dir, `ata-slave-${via}.img`);
    const original = sectorsOf(DISK_SECTORS, patternByte);
    writeFileSync(master, original);
    writeFileSync(slave, Buffer.alloc(SLAVE_SECTORS * SECTOR, 0x5a));
    const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'ata64.elf'), '--memory', '64M', '--cmdline', via === 'ioapic' ? 'ioapic' : '',
      '--disk', `${master},ide`, '--disk', `${slave},ro,ide`], BOOT_MS);
    assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
    assert.equal(r.stdout, [
      'kvmdbg ata64 (pvh)',
      `ata0 master: KVMDBG ATA DISK serial KVMDBG-ATA0-0, ${DISK_SECTORS} sectors, lba48 ${DISK_SECTORS}`,
      `ata0 slave: KVMDBG ATA DISK serial KVMDBG-ATA0-1, ${SLAVE_SECTORS} sectors, lba48 ${SLAVE_SECTORS}`,
      'ata: polled lba28 read of 2 sectors at 100 ok',
      'ata: polled lba48 read of 2 sectors at 1000 ok',
      via === 'pic' ? 'ata: irq 14 through the 8259s' : 'ata: irq 14 through ioapic pin 14',
      'ata: irq lba28 read of 2 sectors at 100 ok',
      'ata: irq lba48 read of 2 sectors at 1000 ok',
      'ata: 4 interrupts for 4 sectors',
      'ata: polled lba28 write of 1 sector at 200 done',
      'ata: irq lba48 write of 2 sectors at 2000 done, 2 interrupts',
      'ata: flush status 0x50',
      'ata: read back lba28 of 1 sectors at 200 ok',
      'ata: read back lba48 of 2 sectors at 2000 ok',
      'ata: read lba 1099511627776: status 0x51 error 0x10',
      'ata ok',
      '',
    ].join('\n'));
    assert.equal(r.stderr, `kvmdbg: guest error: ata0@0x1f0: sectors 1099511627776+1 are past the disk's ${DISK_SECTORS}: error status (ERR, IDNF)\n`);
    const expected = Buffer.from(original);
    for (const lba of [200, 2000, 2001]) for (let i = 0; i < SECTOR; i++) expected[lba * SECTOR + i] = writtenByte(lba, i);
    const got = readFileSync(master);
    assert.equal(got.length, DISK_SECTORS * SECTOR);
    const firstDiff = got.findIndex((b, i) => b !== expected[i]);
    assert.equal(firstDiff, -1, `the image differs first at byte ${firstDiff} (sector ${Math.floor(firstDiff / SECTOR)})`);
    assert.ok(readFileSync(slave).equals(Buffer.alloc(SLAVE_SECTORS * SECTOR, 0x5a)), 'the read-only slave is unchanged');
  });
}

test('pit64: the in-kernel 8254 ticks IRQ 0 through the 8259 at 100 Hz and 250 Hz (timed by the RTC), and holds further ticks until the EOI', async () => {
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'pit64.elf'), '--memory', '64M'], BOOT_MS);
  assert.deepEqual([r.status, r.signal, r.stderr], [0, null, '']);
  const m = /^kvmdbg pit64 \(pvh\)\npit: 100 Hz: (\d+) ticks in 1 s\npit: 100 Hz: within 25%\npit: 250 Hz: (\d+) ticks in 1 s\npit: 250 Hz: within 25%\npic: without EOI: 0 more ticks, isr 0x1\npic: after EOI: isr 0x0\npic: ticks again after EOI\npit ok\n$/.exec(r.stdout);
  assert.ok(m, r.stdout);
  console.log(`# PIT: ${m[1]} ticks at 100 Hz, ${m[2]} at 250 Hz in one RTC second`);
});

test('hammer64 with an ATA disk: random and adversarial ATA commands and data bursts leave the VMM running, the image its size, stderr bounded', async () => {
  const img = join(dir, 'hammer.img');
  writeFileSync(img, sectorsOf(512, patternByte));
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'hammer64.elf'), '--memory', '64M', '--cmdline', 'hammer=20000 seed=3', '--disk', `${img},ide`], BOOT_MS * 3);
  assert.deepEqual([r.status, r.signal], [0, null], r.stderr.slice(0, 2000));
  const done = /\nhammer done: pio \d+, pci \d+, mmio \d+, cmos \d+, i8042 \d+, console \d+, ata (\d+)\n/.exec(r.stdout);
  assert.ok(done && Number(done[1]) > 1000, r.stdout);
  assert.match(r.stdout, /\nhammer ok\n$/);
  assert.doesNotMatch(r.stderr, STACK_LINE);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.ok(lines.length <= 200, `${lines.length} stderr lines: not rate-limited`);
  assert.ok(lines.filter((l) => l.includes('ata0@0x1f0:')).length <= 16, 'the channel logs at most 16 guest errors');
  assert.equal(readFileSync(img).length, 512 * SECTOR);
});

test('a third --disk FILE,ide is one sentence before the VM starts; the images are untouched', async () => {
  const imgs = [1, 2, 3].map((i) => { const f = join(dir, `three-${i}.img`); writeFileSync(f, Buffer.alloc(4 * SECTOR, i)); return f; });
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'mp64.elf'), ...imgs.flatMap((f) => ['--disk', `${f},ide`])], BOOT_MS);
  assert.deepEqual([r.status, r.stdout, r.stderr], [1, '', 'kvmdbg: 3 disks on the IDE bus: the primary channel holds 2 (master and slave); put the others on virtio\n']);
  imgs.forEach((f, i) => assert.ok(readFileSync(f).equals(Buffer.alloc(4 * SECTOR, i + 1))));
});
