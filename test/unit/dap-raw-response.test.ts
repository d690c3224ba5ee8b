import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { DebugSession, Event, Response } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { RAW_FROM_CHARS, rawProtocolOut, sendRawReadMemory } from '../../debug-adapter/session/raw-response';

/** A library session on a stream, sending readMemory answers the way KvmDebugSession does. */
class Session extends DebugSession {
  public override sendResponse(response: DebugProtocol.Response): void {
    if (response.command === 'readMemory' && sendRawReadMemory(response as DebugProtocol.ReadMemoryResponse, rawProtocolOut(this))) return;
    super.sendResponse(response);
  }
}

/** Splits what a session wrote into its messages by Content-Length, as a client does (byte counts, not characters). */
function messages(raw: Buffer): unknown[] {
  const out: unknown[] = [];
  let at = 0;
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    assert.ok(headEnd > 0, 'a header ends with a blank line');
    const m = /^Content-Length: (\d+)$/.exec(raw.toString('latin1', at, headEnd));
    assert.ok(m, `header: ${raw.toString('latin1', at, headEnd)}`);
    const start = headEnd + 4;
    out.push(JSON.parse(raw.toString('utf8', start, start + Number(m[1]))));
    at = start + Number(m[1]);
  }
  return out;
}

function readMemoryResponse(seq: number, bytes: Buffer, address: string): DebugProtocol.ReadMemoryResponse {
  const r = new Response({ seq, type: 'request', command: 'readMemory', arguments: {} }) as DebugProtocol.ReadMemoryResponse;
  r.body = { address, data: bytes.toString('base64'), unreadableBytes: 7 };
  return r;
}

test('a big readMemory answer written as raw bytes is the message the library would have sent, in sequence with the others', () => {
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (c: Buffer) => chunks.push(c));
  const session = new Session();
  session.start(new PassThrough(), output);
  const big = Buffer.alloc(64 * 1024, 0);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  session.sendEvent(new Event('before'));
  session.sendResponse(readMemoryResponse(5, big, '0x100000'));
  session.sendResponse(readMemoryResponse(6, big.subarray(0, 3), '0x200000')); // small: the library's own path
  session.sendEvent(new Event('after'));
  const sent = messages(Buffer.concat(chunks)) as Record<string, unknown>[];
  assert.deepEqual(sent.map((m) => m.seq), [1, 2, 3, 4]);
  assert.deepEqual(sent[1], {
    seq: 2, type: 'response', request_seq: 5, success: true, command: 'readMemory',
    body: { address: '0x100000', unreadableBytes: 7, data: big.toString('base64') },
  });
  assert.equal(Buffer.from((sent[1].body as { data: string }).data, 'base64').compare(big), 0);
  assert.deepEqual((sent[2].body as { data: string }).data, big.subarray(0, 3).toString('base64'));
  assert.equal(sent[3].event, 'after');
});

test('raw bytes only where they are safe: not below the size that matters, not without a stream, not when someone listens for sent messages', () => {
  const small = readMemoryResponse(1, Buffer.alloc(RAW_FROM_CHARS / 2), '0x0');
  const out = { stream: new PassThrough(), nextSeq: () => 1 };
  assert.equal(sendRawReadMemory(small, out), false);
  assert.equal(sendRawReadMemory(readMemoryResponse(1, Buffer.alloc(RAW_FROM_CHARS), '0x0'), undefined), false);
  const inline = new Session(); // never started: no stream, as when VS Code runs an adapter inline
  assert.equal(rawProtocolOut(inline), undefined);
  const watched = new Session();
  watched.start(new PassThrough(), new PassThrough());
  assert.ok(rawProtocolOut(watched));
  watched.onDidSendMessage(() => {});
  assert.equal(rawProtocolOut(watched), undefined);
});
