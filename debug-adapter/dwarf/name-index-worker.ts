/**
 * The worker thread that builds a name index (name-index-service.ts starts
 * it): opens the object file itself (its own descriptor, its own bounded
 * reads), walks every unit, writes the cache file atomically (a temporary
 * file renamed into place: a killed build leaves no half-written index) and
 * posts the index's bytes back (transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildIndexBytes, writeIndexFile } from './name-index-service';

export interface WorkerInput { path: string; cachePath?: string; buildId: string }
export type WorkerResult =
  | { ok: true; bytes: Uint8Array; problems: string[]; ms: number; written?: string }
  | { ok: false; message: string };

const input = workerData as WorkerInput;
let result: WorkerResult;
try {
  const t0 = performance.now();
  const built = buildIndexBytes(input.path, input.buildId);
  let written: string | undefined;
  if (input.cachePath) {
    try { writeIndexFile(input.cachePath, built.bytes); } catch (e) { written = (e as Error).message; }
  }
  result = { ok: true, bytes: built.bytes, problems: built.problems, ms: performance.now() - t0, written };
} catch (e) {
  result = { ok: false, message: e instanceof Error ? e.message : String(e) };
}
parentPort?.postMessage(result, result.ok ? [result.bytes.buffer as ArrayBuffer] : []);
