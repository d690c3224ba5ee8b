// launch.json's sourceFileMap (issue 14, "Distro kernels"): the compile
// directory a distro kernel's DWARF names -> the user's tree, both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeSourceFileMap, sourceFileMapProblem } from '../../debug-adapter/source-map';
import { LaunchConfigError, validateLaunchArgs } from '../../debug-adapter/launch-config';

const DEBIAN = 'debian/build/build_amd64_none_amd64';

test('a relative compile directory (Debian) maps to the user\'s tree and back', () => {
  const m = makeSourceFileMap({ [DEBIAN]: '/home/me/linux' });
  assert.equal(m.mapSource(`${DEBIAN}/fs/open.c`), '/home/me/linux/fs/open.c');
  assert.equal(m.unmapSource('/home/me/linux/fs/open.c'), `${DEBIAN}/fs/open.c`);
  assert.equal(m.mapSource(DEBIAN), '/home/me/linux');
  assert.equal(m.mapSource('/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h'), '/usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h', 'not under it: unchanged');
  assert.equal(m.unmapSource('/elsewhere/fs/open.c'), '/elsewhere/fs/open.c');
});

test('absolute prefixes, whole components only, the longest wins, slashes normalised', () => {
  const m = makeSourceFileMap({ '/build/linux-6.1/': '/src/linux', '/build/linux-6.1/drivers': '/src/drivers-tree', '/build/lin': '/nope' });
  assert.equal(m.mapSource('/build/linux-6.1/kernel/fork.c'), '/src/linux/kernel/fork.c');
  assert.equal(m.mapSource('/build/linux-6.1/drivers/net/tun.c'), '/src/drivers-tree/net/tun.c');
  assert.equal(m.mapSource('/build/linux-6.1x/a.c'), '/build/linux-6.1x/a.c', '"/build/linux-6.1" does not claim "/build/linux-6.1x"');
  assert.equal(m.mapSource('/build/linux-6.1/./mm/../mm/slub.c'), '/src/linux/mm/slub.c');
  assert.equal(m.unmapSource('/src/drivers-tree/net/tun.c'), '/build/linux-6.1/drivers/net/tun.c');
  assert.equal(m.unmapSource('C:\\src\\linux\\kernel\\fork.c'), 'C:\\src\\linux\\kernel\\fork.c');
  const w = makeSourceFileMap({ '/build/k': 'C:\\src\\k' });
  assert.equal(w.mapSource('/build/k/a/b.c'), 'C:/src/k/a/b.c');
  assert.equal(w.unmapSource('C:\\src\\k\\a\\b.c'), '/build/k/a/b.c');
  assert.equal(makeSourceFileMap().mapSource('x/y.c'), 'x/y.c', 'no map: identity');
});

test('launch.json validation: an object of non-empty strings, one sentence otherwise', () => {
  assert.equal(sourceFileMapProblem(undefined), undefined);
  assert.equal(sourceFileMapProblem({ [DEBIAN]: '/x' }), undefined);
  assert.match(sourceFileMapProblem(['a'])!, /"sourceFileMap" must be an object like/);
  assert.match(sourceFileMapProblem({ '': '/x' })!, /empty compile directory/);
  assert.match(sourceFileMapProblem({ a: 3 })!, /"sourceFileMap"\["a"\] must be the path of your source tree/);
  const kernel = join(__dirname, '..', '..', '..', 'test', 'guests', 'build', 'pvh64.elf');
  assert.deepEqual(validateLaunchArgs({ kernel, sourceFileMap: { [DEBIAN]: '/x' } }).config.sourceFileMap, { [DEBIAN]: '/x' });
  assert.deepEqual(validateLaunchArgs({ kernel }).config.sourceFileMap, {});
  assert.throws(() => validateLaunchArgs({ kernel, sourceFileMap: 'nope' }), LaunchConfigError);
});
