// `make grub-check`: boots build/mb2.elf with real GRUB 2 (a grub-mkrescue
// ISO) under QEMU's software CPU, types "Hi 42" + Enter on its keyboard, and
// checks that GRUB and kvmdbg tell the kernel the same things where they
// must agree: the command line, module 0 and its command line, the
// framebuffer (1024x768x32 RGB at 0xFD000000, pitch 4096), the load base, the
// ELF sections, the echo; and that QEMU's screen is, pixel for pixel, the
// picture test/kvm/helpers/mb2-screen.ts expects from kvmdbg. A check of our
// kernel and of kvmdbg's multiboot2 against the reference loader; not part
// of npm test (it needs grub-pc-bin, xorriso and mtools).
//   node test/guests/tools/grub-check.mjs      (after npm run build)
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../..', import.meta.url).pathname;
const guests = join(root, 'test', 'guests');
const fail = (msg) => { console.error(`grub-check: ${msg}`); process.exit(1); };
for (const [tool, pkg] of [['grub-mkrescue', 'grub-common grub-pc-bin'], ['xorriso', 'xorriso'], ['mformat', 'mtools'], ['qemu-system-x86_64', 'qemu-system-x86']]) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is missing: apt-get install ${pkg}`);
}
const kernel = join(guests, 'build', 'mb2.elf');
if (!existsSync(kernel)) fail(`${kernel} is missing: run npm run build`);

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-grub-check-'));
const cmdline = 'mb2 test root=/dev/ram0';
try {
  mkdirSync(join(dir, 'iso', 'boot', 'grub'), { recursive: true });
  copyFileSync(kernel, join(dir, 'iso', 'boot', 'mb2.elf'));
  writeFileSync(join(dir, 'iso', 'boot', 'hello.mod'), 'hello from module zero\nsecond line\n');
  writeFileSync(join(dir, 'iso', 'boot', 'grub', 'grub.cfg'), `set timeout=0\nserial --unit=0 --speed=115200\nterminal_output serial\n`
    + `menuentry "mb2" {\n  multiboot2 /boot/mb2.elf ${cmdline}\n  module2 /boot/hello.mod hello.mod\n  boot\n}\n`);
  const mk = spawnSync('grub-mkrescue', ['-o', join(dir, 'mb2.iso'), join(dir, 'iso')], { encoding: 'utf8' });
  if (mk.status !== 0) fail(`grub-mkrescue failed: ${mk.stderr.trim().split('\n').pop()}`);

  const serial = join(dir, 'serial.txt');
  const sock = join(dir, 'monitor.sock');
  writeFileSync(serial, '');
  const qemu = spawn('qemu-system-x86_64', ['-M', 'q35', '-m', '64', '-cdrom', join(dir, 'mb2.iso'), '-display', 'none', '-vga', 'std',
    '-serial', `file:${serial}`, '-monitor', `unix:${sock},server,nowait`, '-no-reboot'], { stdio: 'ignore' });
  const console_ = () => readFileSync(serial, 'latin1').replace(/\r/g, '');
  const waitFor = async (text, what) => {
    for (let t = 0; t < 600 && !console_().includes(text); t++) await new Promise((r) => setTimeout(r, 200));
    if (!console_().includes(text)) { qemu.kill(); fail(`${what}: no "${text}" on the console after 120 s:\n${console_()}`); }
  };
  const monitor = async (commands) => {
    const c = connect(sock);
    await new Promise((r, j) => { c.once('connect', r); c.once('error', j); });
    for (const cmd of commands) { c.write(`${cmd}\n`); await new Promise((r) => setTimeout(r, 300)); }
    c.end();
  };
  await waitFor('screen ready', 'GRUB booting mb2.elf');
  await monitor(['sendkey shift-h', 'sendkey i', 'sendkey spc', 'sendkey 4', 'sendkey 2', `screendump ${join(dir, 'screen.ppm')}`]);
  await new Promise((r) => setTimeout(r, 1000));
  await monitor(['sendkey ret']);
  await waitFor('typed: Hi 42', 'the keys');
  qemu.kill();

  const out = console_();
  const expect = [
    `cmdline: ${cmdline}`,
    /module 0: 35 bytes at 0x[0-9a-f]+000, "hello\.mod": hello from module zero/,
    /elf sections: \d+ of 40 bytes, names in \d+/,
    'load base: 0x100000',
    'framebuffer: 1024x768x32 pitch 4096 at 0xfd000000 type 1 red 16/8 green 8/8 blue 0/8',
    'typed: Hi 42',
  ];
  for (const e of expect) if (!(typeof e === 'string' ? out.split('\n').includes(e) : e.test(out))) fail(`GRUB's boot printed no line ${e}:\n${out}`);

  const require = createRequire(import.meta.url);
  const { expectedMb2Screen } = require(join(root, 'out', 'test', 'kvm', 'helpers', 'mb2-screen.js'));
  const ppm = readFileSync(join(dir, 'screen.ppm'));
  const header = ppm.toString('latin1', 0, 20).match(/^P6\s+(\d+)\s+(\d+)\s+255\s/);
  if (!header || header[1] !== '1024' || header[2] !== '768') fail(`QEMU's screen is not 1024x768 (${ppm.toString('latin1', 0, 16)})`);
  const px = header[0].length;
  // The screendump came before Enter: compare everything above the "typed:" line.
  const want = expectedMb2Screen(cmdline, 'hello from module zero', 'Hi 42').data;
  for (let i = 0; i < 1024 * 196; i++) {
    for (let c = 0; c < 3; c++) {
      if (ppm[px + i * 3 + c] !== want[i * 4 + c]) fail(`pixel (${i % 1024}, ${Math.floor(i / 1024)}) under GRUB differs from the expected picture`);
    }
  }
  console.log('grub-check: ok: GRUB 2 boots mb2.elf as kvmdbg does (cmdline, module, framebuffer, load base, keys), and its screen is the expected picture pixel for pixel');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
