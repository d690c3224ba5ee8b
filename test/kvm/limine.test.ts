// KVM tier: the Limine boot protocol through `kvmdbg run`, on our own
// Limine kernels (test/guests/kernel/limine.c): limine.elf asks for base
// revision 6, limine-r3.elf for 3 (whose RSDP answer is physical),
// limine-pie.elf is revision 6 position-independent and linked at 0. What the
// kernel prints about each answer is compared line for line; on two vCPUs
// the AP, parked by kvmdbg, jumps to the kernel's goto_address, says hello
// and draws its own box; the framebuffer picture (background and boxes) is
// read back from --screenshot and compared pixel for pixel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BOOT_MS, GUEST_DIR } from './helpers/guests';
import { runCli } from './helpers/cli';
import { decodePng } from '../../vmm/screen/png';
import { hostHasLa57 } from '../../vmm/boot/limine-paging';

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-limine-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const la57 = hostHasLa57();
// The kernel prefers 5-level paging and accepts 4-level: what it gets is what this host's CPU has.
const paging = la57 ? '5-level' : '4-level';
// KVM on AMD SVM (kvm_amd's svm_set_cr4) keeps the host's CR4.MCE in the guest's real CR4 and does not
// intercept reads of it, so there the guest sees MCE set (0x40) beside what we set; on Intel, and under
// PVM on an AMD CPU (no kvm_amd), it reads what we set.
const amdHostMce = existsSync('/sys/module/kvm_amd') ? 0x40 : 0;
const hhdm = la57 ? '0xff00000000000000' : '0xffff800000000000';

function expectedLines(o: { revision: number; cmdline: string; cpus: number; module?: string }): string {
  const rsdp = o.revision === 3 ? 'rsdp: physical 0xf0000' : "rsdp: 'RSD PTR ' revision 2";
  const lines = [
    `kvmdbg limine kernel (base revision ${o.revision} supported, loaded ${o.revision})`,
    `loader: kvmdbg ${JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).version}`,
    'firmware: x86 BIOS',
    `hhdm: ${hhdm}`,
    `paging: ${paging}`,
    `cpu: cr0=0x80010011 cr4=0x${((la57 ? 0x1020 : 0x20) | amdHostMce).toString(16)}`,
    // Base revision 5's local APIC: software-enabled, spurious vector 0xFF, every LVT masked, LINT0 ExtINT, LINT1 NMI.
    'lapic: svr=0x1ff tpr=0x0 timer=0x10000 lint0=0x10700 lint1=0x10400 error=0x10000',
    // WB WT UC- UC WP WC, then UC- UC.
    'pat: 0x0007010500070406',
    'stack: size answered, in the HHDM, return address 0x0',
    'executable: physical 0x100000 virtual 0xffffffff80000000',
    `executable file: an ELF, string '${o.cmdline}'`,
    `cmdline: ${o.cmdline}`,
    'memmap: 7 entries, sorted, usable page-aligned',
    rsdp,
    'smbios: none',
    'boot time: after 2020',
    o.module ? `module 0: ${o.module.length + 1} bytes at a page-aligned address, string '': ${o.module}` : 'modules: none',
    'framebuffer: 1024x768, 32 bpp, pitch 4096, rgb 8:16 8:8 8:0, 1 mode',
    `cpus: ${o.cpus}, bsp lapic 0`,
    ...Array.from({ length: o.cpus - 1 }, (_, i) => `cpu ${i + 1}: hello (lapic ${i + 1}, extra_argument 0x${(0x1001 + i).toString(16)}, stack in the HHDM)`),
    `hellos: ${o.cpus - 1} of ${o.cpus - 1}`,
    'limine done',
  ];
  return lines.join('\n') + '\n';
}

/** limine.c's picture: a colour a line, and CPU n's 150x100 box at (100 + 200n, 300). */
function expectedPixel(x: number, y: number, cpus: number): number {
  const box = [0xff0000, 0x00ff00, 0x0000ff, 0xffffff];
  for (let n = 0; n < Math.min(cpus, 4); n++) {
    if (y >= 300 && y < 400 && x >= 100 + 200 * n && x < 250 + 200 * n) return box[n];
  }
  return 0x000040 | (y & 0xff) << 8 | (y >> 8) << 20;
}

function assertPicture(png: string, cpus: number): void {
  const img = decodePng(readFileSync(png));
  assert.deepEqual([img.width, img.height], [1024, 768]);
  for (let y = 0; y < 768; y++) {
    for (let x = 0; x < 1024; x++) {
      const i = (y * 1024 + x) * 4;
      const want = expectedPixel(x, y, cpus);
      const have = (img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2];
      if (have !== want) assert.fail(`pixel (${x}, ${y}) is 0x${have.toString(16)}, expected 0x${want.toString(16)} (${png})`);
    }
  }
}

test('base revision 6 on two vCPUs: every answer as the kernel prints it, the AP released through goto_address, the module, the framebuffer picture pixel for pixel', async () => {
  const module = join(dir, 'module.txt');
  writeFileSync(module, 'hello from a limine module\n');
  const png = join(dir, 'r6.png');
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'limine.elf'), '--memory', '64M', '--cpus', '2',
    '--initrd', module, '--cmdline', 'hello limine', '--screenshot', png], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, expectedLines({ revision: 6, cmdline: 'hello limine', cpus: 2, module: 'hello from a limine module' }));
  assertPicture(png, 2);
});

test('base revision 3 on one vCPU: the RSDP is a physical address (and outside its HHDM), no module, the BSP box alone', async () => {
  const png = join(dir, 'r3.png');
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'limine-r3.elf'), '--memory', '64M', '--screenshot', png], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, expectedLines({ revision: 3, cmdline: '', cpus: 1 }));
  assertPicture(png, 1);
});

test('a position-independent kernel linked at 0 (ELF DYN) is slid to 0xffffffff80000000 and relocated: its entry point request\'s pointer works', async () => {
  const png = join(dir, 'pie.png');
  const r = await runCli(['run', '--kernel', join(GUEST_DIR, 'limine-pie.elf'), '--memory', '64M', '--cpus', '2', '--screenshot', png], BOOT_MS);
  assert.equal(r.stderr, '');
  assert.deepEqual([r.status, r.signal], [0, null]);
  assert.equal(r.stdout, expectedLines({ revision: 6, cmdline: '', cpus: 2 }));
  assertPicture(png, 2);
});
