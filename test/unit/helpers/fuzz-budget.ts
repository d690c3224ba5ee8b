/**
 * The fuzzers' shared knobs (scripts/fuzz.mjs sets them for long runs):
 *   KVMDBG_FUZZ_ROUNDS  the boot fuzzer's rounds per image (default 1000); every other fuzzer
 *                       scales its own default by ROUNDS/1000, so one knob lengthens them all
 *   KVMDBG_FUZZ_SEED    replaces each fuzzer's fixed seed (each mixes in its own salt)
 * Without them every run is the same, fixed and short (the CI unit tier).
 */
export function fuzzRounds(defaultRounds: number): number {
  const r = Number(process.env.KVMDBG_FUZZ_ROUNDS);
  if (!Number.isFinite(r) || r <= 0) return defaultRounds;
  return Math.max(1, Math.round(defaultRounds * (r / 1000)));
}

export function fuzzSeed(defaultSeed: number, salt = 0): number {
  const s = process.env.KVMDBG_FUZZ_SEED;
  if (s === undefined || s === '') return defaultSeed >>> 0;
  return ((Number(s) >>> 0) ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0 || 1;
}

/** mulberry32: small, fast, seeded; returns [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
