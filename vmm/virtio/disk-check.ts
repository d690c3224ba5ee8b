/**
 * Checks a --disk image on the main thread before the VM starts, so that a
 * missing or unwritable file is one sentence at the prompt rather than a
 * failure inside the vCPU thread.
 */
import { openDiskFile } from './blk';
import type { DiskSpec } from './layout';

export function checkDiskFile(d: DiskSpec): void {
  const f = openDiskFile(d.path, d.readOnly);
  f.close();
  if (f.bytes < 512) throw new Error(`disk image ${d.path}: the image is ${f.bytes} bytes; a disk needs at least one 512-byte sector`);
}
