// One source of truth: package.json's launch attributes are the adapter's LAUNCH_SCHEMA,
// and what the schema and snippets promise, the adapter's validation accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAUNCH_SCHEMA, validateLaunchArgs } from '../../debug-adapter/launch-config';
import { launchAttributes } from '../../extension/manifest-schema';

const ROOT = join(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const dbg = pkg.contributes.debuggers.find((d: { type: string }) => d.type === 'kvm');
const KERNEL = join(ROOT, 'test', 'guests', 'build', 'pvh64.elf');

test('package.json launch attributes equal LAUNCH_SCHEMA (fix: node scripts/package.mjs --sync)', () => {
  assert.deepEqual(dbg.configurationAttributes.launch, launchAttributes());
  for (const [k, p] of Object.entries(LAUNCH_SCHEMA)) {
    assert.ok(p.description.length > 10, `${k} has a description`);
  }
});

test('every schema default is accepted by the adapter', () => {
  const args: Record<string, unknown> = { kernel: KERNEL };
  for (const [k, p] of Object.entries(LAUNCH_SCHEMA)) if (p.default !== undefined) args[k] = p.default;
  const v = validateLaunchArgs(args);
  assert.deepEqual(v.warnings, []);
});

test('snippets and initial configurations use only known attributes', () => {
  const known = new Set(['type', 'request', 'name', ...Object.keys(LAUNCH_SCHEMA)]);
  const bodies = [...dbg.initialConfigurations, ...dbg.configurationSnippets.map((s: { body: unknown }) => s.body)];
  for (const b of bodies) for (const k of Object.keys(b)) assert.ok(known.has(k), `unknown attribute ${k}`);
  for (const b of bodies) assert.equal(b.type, 'kvm');
});

test('a snippet, with its path filled in, passes the adapter validation', () => {
  for (const s of dbg.configurationSnippets) {
    const body = { ...s.body, kernel: KERNEL, symbols: undefined, initrd: undefined };
    const v = validateLaunchArgs(body);
    assert.deepEqual(v.warnings, [], s.label);
  }
});

test('the manifest: activation only on debug and our own commands/views; breakpoints for our languages', () => {
  for (const e of pkg.activationEvents) assert.match(e, /^(onDebugResolve:kvm|onDebugDynamicConfigurations:kvm|onCommand:kvmdbg\.|onView:kvmdbg\.)/);
  const langs = pkg.contributes.breakpoints.map((b: { language: string }) => b.language);
  for (const l of ['c', 'cpp', 'asm', 'rust', 'zig']) assert.ok(langs.includes(l), l);
  assert.deepEqual(pkg.extensionKind, ['workspace']);
  assert.equal(pkg.main, './dist/extension.js');
  const titles = pkg.contributes.commands.map((c: { title: string }) => c.title);
  assert.ok(titles.includes('Show guest physical memory at...'));
  assert.ok(titles.includes('Show guest virtual memory at...'));
  assert.match(pkg.devDependencies['@types/vscode'], /^1\.100\./);
});
