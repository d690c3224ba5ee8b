/** Number formatting for boot messages, so every sentence reads the same way. */

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** "300 MiB", "4 KiB", "1.5 GiB", "17 bytes". */
export function size(bytes: number): string {
  const units: [number, string][] = [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
  for (const [unit, name] of units) {
    if (bytes >= unit) {
      const v = bytes / unit;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${name}`;
    }
  }
  return `${bytes} bytes`;
}

/** A `--memory` value at least `bytes`: the next power of two, "512M" or "2G". */
export function memoryOption(bytes: number): string {
  let p = 64 * 2 ** 20;
  while (p < bytes) p *= 2;
  return p >= 2 ** 30 ? `${p / 2 ** 30}G` : `${p / 2 ** 20}M`;
}

/** The first bytes of a file as hex, for "this is not a kernel" messages. */
export function firstBytes(data: Uint8Array, n = 16): string {
  if (data.length === 0) return 'none';
  const shown = Array.from(data.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return data.length > n ? `${shown} ...` : shown;
}
