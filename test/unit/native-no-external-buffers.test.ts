// ARCHITECTURE rule 1: Electron's V8 sandbox refuses ArrayBuffers over foreign
// memory, so the addon must never create one. Greps the native sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPackageRoot } from '../../native/load';

const forbidden: Array<[RegExp, string]> = [
  [/napi_create_external_arraybuffer/, 'napi_create_external_arraybuffer'],
  [/napi_create_external_buffer/, 'napi_create_external_buffer'],
  [/node_api_create_external_arraybuffer/, 'node_api_create_external_arraybuffer'],
  [/ArrayBuffer::New\s*\([^;]*,[^;]*,/s, 'Napi::ArrayBuffer::New over external memory'],
  [/Buffer<[^>]*>::New\s*\([^;]*,[^;]*,/s, 'Napi::Buffer::New over external memory'],
  [/Napi::Buffer<[^>]*>::NewOrCopy/, 'Napi::Buffer::NewOrCopy'],
  [/\bv8::/, 'V8 API (Node-API only)'],
  [/\bnan\.h\b|Nan::/, 'NAN (Node-API only)'],
];

test('native/ creates no external ArrayBuffers or Buffers and uses Node-API only', () => {
  const root = findPackageRoot(__dirname)!;
  const dir = join(root, 'native', 'src');
  const files = readdirSync(dir).filter((f) => /\.(cc|h)$/.test(f));
  assert.ok(files.length > 0, 'native/src has sources');
  const hits: string[] = [];
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const [re, what] of forbidden) if (re.test(text)) hits.push(`${f}: ${what}`);
  }
  assert.deepEqual(hits, []);
});
