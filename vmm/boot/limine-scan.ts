/**
 * Finds a Limine kernel's base revision tag and requests in its loaded
 * image: 8-byte aligned magic words, between the last start marker and the
 * first end marker after it when the kernel has them (kvmdbg honours the
 * delimiters for every base revision: for 0 and 1 they are hints a loader
 * may honour, from 2 on they must be). Every request is reported by its
 * place in the image; its fields are read later, bounds-checked, by the
 * answer builders. The image is the kernel's, so it is hostile: a request
 * cut off by the end of the image, or two requests with one ID, get a
 * sentence, never an out-of-bounds read.
 */
import { BootError } from './boot-state';
import { hex } from './format';
import { BASE_REVISION_MAGIC, COMMON_MAGIC, REQUEST_FIELDS, REQUEST_IDS, REQUESTS_END_MARKER, REQUESTS_START_MARKER, RequestName, requestTitle } from './limine-ids';

export interface FoundRequest {
  name: RequestName;
  /** Byte offset in the image and virtual address of the request's first byte. */
  offset: number;
  vaddr: bigint;
}

export interface LimineScan {
  /** The base revision tag: where its third word is and what it asks for; absent means revision 0. */
  baseRevision?: { offset: number; requested: bigint };
  requests: FoundRequest[];
  /** Requests with the common magic but an ID kvmdbg does not know: left alone (their response stays as it is). */
  unknown: number;
  /** The delimited range that was searched, [start, end) in image offsets. */
  range: [number, number];
}

const low32 = (v: bigint): number => Number(v & 0xffff_ffffn);
const NAMES = Object.entries(REQUEST_IDS) as [RequestName, readonly [bigint, bigint]][];

/** The 64-bit word at byte `at` of `view` (caller checked bounds). */
function word(view: DataView, at: number): bigint {
  return view.getBigUint64(at, true);
}

function matches(view: DataView, at: number, words: readonly bigint[]): boolean {
  if (at + words.length * 8 > view.byteLength) return false;
  for (let i = 0; i < words.length; i++) if (word(view, at + i * 8) !== words[i]) return false;
  return true;
}

/** Offsets (8-byte aligned in virtual memory) where `words` start. */
function findAll(view: DataView, first: number, words: readonly bigint[]): number[] {
  const out: number[] = [];
  const key = low32(words[0]);
  for (let at = first; at + 8 <= view.byteLength; at += 8) {
    if (view.getUint32(at, true) === key && matches(view, at, words)) out.push(at);
  }
  return out;
}

/** True when the bytes hold any Limine magic (a base revision tag, a start marker or a request ID) at an 8-byte aligned address. */
export function hasLimineMagic(bytes: Uint8Array, vaddr: bigint): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = firstAligned(vaddr);
  const keys = [low32(COMMON_MAGIC[0]), low32(BASE_REVISION_MAGIC[0]), low32(REQUESTS_START_MARKER[0])];
  for (let at = first; at + 16 <= view.byteLength; at += 8) {
    const k = view.getUint32(at, true);
    if (k !== keys[0] && k !== keys[1] && k !== keys[2]) continue;
    if (matches(view, at, COMMON_MAGIC) || matches(view, at, BASE_REVISION_MAGIC) || matches(view, at, REQUESTS_START_MARKER)) return true;
  }
  return false;
}

function firstAligned(vaddr: bigint): number {
  return Number((8n - (vaddr & 7n)) & 7n);
}

/**
 * Scans the loaded image (`bytes` at virtual address `vaddr`). `explicit`
 * (base revision 0's `.limine_reqs` list) replaces the scan for requests.
 */
export function scanLimine(file: string, bytes: Uint8Array, vaddr: bigint, explicit?: readonly bigint[]): LimineScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = firstAligned(vaddr);
  const starts = findAll(view, first, REQUESTS_START_MARKER);
  const lo = starts.length > 0 ? starts[starts.length - 1] + REQUESTS_START_MARKER.length * 8 : first;
  const end = findAll(view, lo, REQUESTS_END_MARKER)[0];
  const hi = end ?? view.byteLength;
  const inRange = (at: number) => at >= lo && at < hi;

  const tags = findAll(view, lo, BASE_REVISION_MAGIC).filter(inRange);
  let baseRevision: LimineScan['baseRevision'];
  if (tags.length > 0) {
    const at = tags[0];
    if (at + 24 > view.byteLength) throw new BootError(file, `its Limine base revision tag at ${hex(vaddr + BigInt(at))} is cut off by the end of the loaded image`);
    baseRevision = { offset: at + 16, requested: word(view, at + 16) };
  }

  const candidates = explicit
    ? explicit.map((v) => requestOffset(file, v, vaddr, bytes.length))
    : findAll(view, lo, COMMON_MAGIC).filter(inRange);
  const requests: FoundRequest[] = [];
  let unknown = 0;
  for (const at of candidates) {
    if (at + 32 > view.byteLength || !matches(view, at, COMMON_MAGIC)) {
      if (explicit) throw new BootError(file, `its .limine_reqs list points at ${hex(vaddr + BigInt(at))}, which is not a Limine request`);
      continue;
    }
    const id2 = word(view, at + 16);
    const id3 = word(view, at + 24);
    const known = NAMES.find(([, w]) => w[0] === id2 && w[1] === id3);
    if (!known) { unknown++; continue; }
    const name = known[0];
    const where = vaddr + BigInt(at);
    if (at + REQUEST_FIELDS > view.byteLength) {
      throw new BootError(file, `its Limine ${requestTitle(name)} request at ${hex(where)} is cut off by the end of the loaded image`);
    }
    const twin = requests.find((r) => r.name === name);
    if (twin) {
      throw new BootError(file, `has two Limine ${requestTitle(name)} requests (at ${hex(twin.vaddr)} and ${hex(where)}); the protocol allows one of each, so Limine refuses to boot it too`);
    }
    requests.push({ name, offset: at, vaddr: where });
  }
  return { baseRevision, requests, unknown, range: [lo, hi] };
}

/** The image offset of a request pointer from `.limine_reqs` (virtual, 8-byte aligned, inside the image). */
function requestOffset(file: string, pointer: bigint, vaddr: bigint, length: number): number {
  if (pointer < vaddr || pointer - vaddr + 32n > BigInt(length) || (pointer & 7n) !== 0n) {
    throw new BootError(file, `its .limine_reqs list points at ${hex(pointer)}, outside the loaded image or not 8-byte aligned`);
  }
  return Number(pointer - vaddr);
}
