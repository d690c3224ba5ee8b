// Boots the multiboot2 test kernel (test/guests/build/mb2.elf) the way a
// hobby kernel's author does with GRUB: a grub-mkrescue image from this
// machine's GRUB (Debian 12: grub-pc-bin), given to kvmdbg as a BIOS boot
// disk. GRUB runs on kvmdbg's BIOS (INT 13h reads of the image, INT 10h
// VBE for the 1024x768x32 framebuffer its multiboot2 loader sets, INT 15h
// E820, INT 16h), loads the kernel and a module; the kernel prints what GRUB
// told it, draws its picture and echoes a typed line. Checked: the serial
// lines and the screenshot, pixel for pixel against the picture the KVM
// tier expects from kvmdbg's own multiboot2 loader. Not part of npm test
// (it needs grub-pc-bin, xorriso, mtools).
//   node scripts/grub-bios-check.mjs      (after npm run build and make -C test/guests)
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const fail = (msg) => { console.error(`grub-bios-check: ${msg}`); process.exit(1); };
for (const [tool, pkg] of [['grub-mkrescue', 'grub-common grub-pc-bin'], ['xorriso', 'xorriso'], ['mformat', 'mtools']]) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is missing: apt-get install ${pkg}`);
}
if (!existsSync('/usr/lib/grub/i386-pc')) fail('GRUB\'s BIOS platform (/usr/lib/grub/i386-pc) is missing: apt-get install grub-pc-bin');
const kernel = join(root, 'test', 'guests', 'build', 'mb2.elf');
const kvmdbg = join(root, 'out', 'vmm', 'cli', 'kvmdbg.js');
if (!existsSync(kernel)) fail(`${kernel} is missing: run make -C test/guests`);
if (!existsSync(kvmdbg)) fail(`${kvmdbg} is missing: run npm run build`);

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-grub-bios-'));
const cmdline = 'mb2 test root=/dev/ram0';
const typed = 'Hi 42';
try {
  mkdirSync(join(dir, 'iso', 'boot', 'grub'), { recursive: true });
  copyFileSync(kernel, join(dir, 'iso', 'boot', 'mb2.elf'));
  writeFileSync(join(dir, 'iso', 'boot', 'hello.mod'), 'hello from module zero\nsecond line\n');
  writeFileSync(join(dir, 'iso', 'boot', 'grub', 'grub.cfg'), 'set timeout=0\nserial --unit=0 --speed=115200\nterminal_output serial console\n'
    + `menuentry "mb2" {\n  multiboot2 /boot/mb2.elf ${cmdline}\n  module2 /boot/hello.mod hello.mod\n  boot\n}\n`);
  const image = join(dir, 'mb2.img');
  const mk = spawnSync('grub-mkrescue', ['-o', image, join(dir, 'iso')], { encoding: 'utf8' });
  if (mk.status !== 0) fail(`grub-mkrescue failed: ${mk.stderr.trim().split('\n').pop()}`);

  const png = join(dir, 'screen.png');
  const started = Date.now();
  // --screen: what is written to kvmdbg's stdin goes to the PS/2 keyboard.
  const child = spawn(process.execPath, [kvmdbg, 'run', '--kernel', image, '--memory', '256M', '--screen', '--screenshot', png], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.on('data', (d) => { out += d.toString('latin1'); });
  child.stderr.on('data', (d) => { err += d.toString('latin1'); });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const waitFor = async (text, seconds) => {
    const until = Date.now() + seconds * 1000;
    while (!out.includes(text) && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    if (!out.includes(text)) { child.kill('SIGTERM'); await exited; fail(`no "${text}" on the serial console after ${seconds} s:\n${out}\n${err}`); }
  };
  await waitFor('screen ready', 120);
  const readyS = (Date.now() - started) / 1000;
  child.stdin.write(`${typed}\r`);
  await waitFor(`typed: ${typed}`, 30);
  const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 30_000))]);
  if (!end) { child.kill('SIGTERM'); fail('the kernel did not power off after the typed line'); }
  if (end.code !== 0) fail(`kvmdbg exited with ${end.code ?? end.signal}: ${err}`);
  const lines = out.replace(/\r/g, '').split('\n');
  const expect = [
    'loader: GRUB 2.06-13+deb12u2', `cmdline: ${cmdline}`,
    /^module 0: 35 bytes at 0x[0-9a-f]+000, "hello\.mod": hello from module zero$/,
    'load base: 0x100000',
    'framebuffer: 1024x768x32 pitch 4096 at 0xfd000000 type 1 red 16/8 green 8/8 blue 0/8',
    `typed: ${typed}`,
  ];
  for (const e of expect) {
    const found = typeof e === 'string' ? lines.some((l) => l === e || (e.startsWith('loader: GRUB') && l.startsWith('loader: GRUB'))) : lines.some((l) => e.test(l));
    if (!found) fail(`GRUB's boot under kvmdbg printed no line ${e}:\n${out}`);
  }
  const require = createRequire(import.meta.url);
  const { expectedMb2Screen } = require(join(root, 'out', 'test', 'kvm', 'helpers', 'mb2-screen.js'));
  const { decodePng } = require(join(root, 'out', 'vmm', 'screen', 'png.js'));
  const got = decodePng(readFileSync(png));
  if (got.width !== 1024 || got.height !== 768) fail(`the screenshot is ${got.width}x${got.height}, not GRUB's 1024x768 framebuffer`);
  const want = expectedMb2Screen(cmdline, 'hello from module zero', typed);
  for (let i = 0; i < 1024 * 768; i++) {
    for (let c = 0; c < 3; c++) {
      if (got.data[i * 4 + c] !== want.data[i * 4 + c]) fail(`pixel (${i % 1024}, ${Math.floor(i / 1024)}) differs from the expected picture (${png} kept)`);
    }
  }
  const loader = lines.find((l) => l.startsWith('loader: '));
  console.log(`grub-bios-check: ok: ${loader.slice(8)} from a BIOS boot disk on kvmdbg's BIOS booted mb2.elf in ${readyS.toFixed(1)} s `
    + '(cmdline, module, VBE framebuffer 1024x768x32, load base, keys), and its screen is the expected picture pixel for pixel');
  rmSync(dir, { recursive: true, force: true });
} catch (e) {
  fail(`${e.stack ?? e} (files in ${dir})`);
}
