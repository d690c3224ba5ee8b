/**
 * A readMemory response written as raw protocol bytes. The library's path
 * (ProtocolServer._send) runs JSON.stringify over the body, Buffer.byteLength
 * over the result and the stream's UTF-8 encoder over it again: for a 1 MiB
 * read, three passes over 1.4 MB of base64 text, measured at ~11 ms of the
 * adapter's ~14 ms a MiB on the PVM host. Base64 is ASCII and needs no
 * escaping: its length is its byte count, and it is written as latin1 (one
 * copy).
 */
import type { Writable } from 'node:stream';
import type { DebugProtocol } from '@vscode/debugprotocol';

/** Where raw bytes can go: the session's output stream and its message counter. */
export interface RawProtocolOut {
  stream: Writable;
  nextSeq(): number;
}

/**
 * The session's stream and counter, or undefined when the session has no
 * stream (run inline in VS Code: messages go through onDidSendMessage), when
 * something listens for sent messages (it would miss this one), or when the
 * library's fields are not what this relies on (a newer
 * @vscode/debugadapter): then the library's own path is taken.
 */
export function rawProtocolOut(session: object): RawProtocolOut | undefined {
  const s = session as { _writableStream?: unknown; _sequence?: unknown; _sendMessage?: { hasListener?: () => boolean } };
  const stream = s._writableStream as Writable | undefined;
  if (!stream || typeof stream.write !== 'function' || typeof stream.cork !== 'function' || typeof s._sequence !== 'number') return undefined;
  if (s._sendMessage?.hasListener?.()) return undefined;
  return { stream, nextSeq: () => (s._sequence as number)++ };
}

/** Below this much data the library's path costs nothing worth saving. */
export const RAW_FROM_CHARS = 4096;

/** Writes `response` through `out` and returns true, or returns false (the caller sends it the usual way). */
export function sendRawReadMemory(response: DebugProtocol.ReadMemoryResponse, out: RawProtocolOut | undefined): boolean {
  const body = response.body;
  if (!out || !body || typeof body.data !== 'string' || body.data.length < RAW_FROM_CHARS) return false;
  const seq = out.nextSeq();
  response.seq = seq;
  const head = `{"seq":${seq},"type":"response","request_seq":${response.request_seq},"success":true,"command":"readMemory",`
    + `"body":{"address":${JSON.stringify(body.address)},"unreadableBytes":${body.unreadableBytes ?? 0},"data":"`;
  const tail = '"}}';
  const length = Buffer.byteLength(head, 'utf8') + body.data.length + tail.length;
  out.stream.cork();
  out.stream.write(`Content-Length: ${length}\r\n\r\n${head}`, 'utf8');
  out.stream.write(body.data, 'latin1');
  out.stream.write(tail, 'latin1');
  out.stream.uncork();
  return true;
}
