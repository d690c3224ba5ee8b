import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LAUNCH_SCHEMA, LaunchConfigError, validateLaunchArgs, withNoKaslr } from '../../debug-adapter/launch-config';

const ROOT = join(__dirname, '..', '..', '..');
const KERNEL = join(ROOT, 'test', 'guests', 'build', 'pvh64.elf');
const README = join(ROOT, 'README.md');

test('defaults: 256M, 1 vCPU, empty cmdline, symbols from the ELF kernel itself', () => {
  const { config, warnings } = validateLaunchArgs({ type: 'kvm', request: 'launch', name: 'x', kernel: KERNEL });
  assert.equal(config.memoryBytes, 256 * 1024 * 1024);
  assert.equal(config.cpus, 1);
  assert.equal(config.cmdline, '');
  assert.equal(config.stopOnEntry, false);
  assert.equal(config.symbols, KERNEL);
  assert.deepEqual(warnings, []);
});

test('memory as a string or a number of bytes', () => {
  assert.equal(validateLaunchArgs({ kernel: KERNEL, memory: '64M' }).config.memoryBytes, 64 << 20);
  assert.equal(validateLaunchArgs({ kernel: KERNEL, memory: 1 << 30 }).config.memoryBytes, 1 << 30);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, memory: '12Q' }), /"memory": 12Q: expected a size like/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, memory: 1000 }), /multiple of 4096/);
});

test('one sentence a mistake', () => {
  assert.throws(() => validateLaunchArgs({}), (e: Error) => e instanceof LaunchConfigError && /"kernel" is missing/.test(e.message));
  assert.throws(() => validateLaunchArgs({ kernel: '/no/such/file' }), /does not exist/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, cpus: 0 }), /"cpus" must be a whole number/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, stopOnEntry: 'yes' }), /"stopOnEntry" must be true or false/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, cmdline: 3 }), /"cmdline" must be a string/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, exitBreakpoints: { pio: 3 } }), /exitBreakpoints.pio/);
});

test('unknown keys are warnings, VS Code\'s own keys are not', () => {
  const { warnings } = validateLaunchArgs({ kernel: KERNEL, kernal: 'x', preLaunchTask: 'build', __sessionId: 'a' });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /unknown attribute "kernal"/);
});

test('a symbols file that is not an ELF is a System.map', () => {
  const { config } = validateLaunchArgs({ kernel: KERNEL, symbols: README });
  assert.equal(config.systemMap, README);
  assert.equal(config.symbols, undefined);
});

test('the schema is data: every attribute has a type and a description; kernel is required', () => {
  for (const [k, p] of Object.entries(LAUNCH_SCHEMA)) {
    assert.ok(p.type && p.description.length > 10, k);
  }
  assert.equal(LAUNCH_SCHEMA.kernel.required, true);
});

test('nokaslr is added once, unless the cmdline says kaslr or nokaslr', () => {
  assert.equal(withNoKaslr('console=ttyS0').cmdline, 'console=ttyS0 nokaslr');
  assert.ok(withNoKaslr('').note);
  assert.deepEqual(withNoKaslr('kaslr quiet'), { cmdline: 'kaslr quiet' });
  assert.deepEqual(withNoKaslr('nokaslr'), { cmdline: 'nokaslr' });
});

test('disks: CLI-style strings and { path, readOnly } objects, in order; one sentence for each mistake', () => {
  const { config } = validateLaunchArgs({ kernel: KERNEL, disks: [README, `${README},ro`, { path: KERNEL, readOnly: true }, { path: KERNEL }] });
  assert.deepEqual(config.disks, [
    { path: README, readOnly: false }, { path: README, readOnly: true }, { path: KERNEL, readOnly: true }, { path: KERNEL, readOnly: false },
  ]);
  assert.deepEqual(validateLaunchArgs({ kernel: KERNEL }).config.disks, []);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: README }), /"disks" must be a list/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: ['/no/such/disk.img'] }), /"disks"\[0\]: \/no\/such\/disk.img does not exist/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: [README, ROOT] }), /"disks"\[1\]: .* is not a file/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: [{ readOnly: true }] }), /"disks"\[0\] needs a "path"/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: [{ path: README, readOnly: 'yes' }] }), /readOnly must be true or false/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: [',ro'] }), /"disks"\[0\] is an empty path/);
  assert.throws(() => validateLaunchArgs({ kernel: KERNEL, disks: [7] }), /"disks"\[0\] must be a file path/);
});
