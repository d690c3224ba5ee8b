/** ACPI checksums: every covered byte, checksum included, sums to 0 mod 256. */

export function sum8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s = (s + bytes[i]) & 0xff;
  return s;
}

/** Sets bytes[at] so that bytes[start, end) sums to zero. */
export function setChecksum(bytes: Uint8Array, at: number, start = 0, end = bytes.length): void {
  bytes[at] = 0;
  bytes[at] = (0x100 - sum8(bytes, start, end)) & 0xff;
}
