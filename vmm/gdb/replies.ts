/**
 * Replies of the RSP that depend on nothing but their input: a stop's T/W
 * packet, the target description (qXfer:features:read), and the error a
 * handler throws to answer `E<code>`.
 */
import { escapeBinary, parseHexInt } from './packets';
import type { GdbArch } from './registers';
import { readFeature } from './target-xml';
import type { GdbStop } from './target';

/** A protocol error: the session replies `E<code>`. */
export class Reply extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

/** The T/W stop reply for a stop. */
export function stopReply(s: GdbStop): string {
  const st = s.stop;
  if (st.kind === 'exited') return 'W' + (st.status & 0xff).toString(16).padStart(2, '0');
  const sig = st.kind === 'signal' ? st.signal & 0xff : 5;
  let reply = 'T' + sig.toString(16).padStart(2, '0') + 'thread:' + (s.vcpu + 1).toString(16) + ';';
  if (st.kind === 'swbreak') reply += 'swbreak:;';
  else if (st.kind === 'hwbreak') reply += 'hwbreak:;';
  else if (st.kind === 'watch') {
    const name = st.access === 'write' ? 'watch' : st.access === 'read' ? 'rwatch' : 'awatch';
    reply += `${name}:${st.address.toString(16)};`;
  }
  return reply;
}

/** qXfer:features:read:ANNEX:OFFSET,LENGTH: a piece of the target description, escaped ('' for other qXfer objects). */
export function featuresReply(text: string, packetSize: number, arch: GdbArch): Uint8Array | string {
  const parts = text.split(':');
  if (parts[1] !== 'features' || parts[2] !== 'read') return '';
  if (parts.length !== 5) throw new Reply(0, 'malformed qXfer');
  const range = parts[4].split(',');
  const offset = parseHexInt(range[0] ?? '');
  const length = parseHexInt(range[1] ?? '');
  if (range.length !== 2 || offset === undefined || length === undefined) throw new Reply(0, 'malformed qXfer offset/length');
  const doc = readFeature(parts[3], offset, Math.min(length, packetSize), arch);
  if (!doc) throw new Reply(0, `no such feature file ${parts[3]}`);
  return escapeBinary(doc);
}
