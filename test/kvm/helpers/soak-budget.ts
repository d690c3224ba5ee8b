// How many cycles, seeds and operations the lifecycle and hostile-guest tests
// run. CI (the default) runs short budgets that still cross every path; the
// soak run (`npm run soak`, KVMDBG_SOAK=1) runs the full figures the README's
// Reliability table reports. A test's own variable (e.g. KVMDBG_LIFECYCLE_CYCLES)
// overrides both.
const soak = process.env.KVMDBG_SOAK === '1';

export function budget(envName: string, ci: number, full: number): number {
  const v = process.env[envName];
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${envName}=${v}: expected a whole number`);
    return n;
  }
  return soak ? full : ci;
}

export function seeds(envName: string, ci: string, full: string): number[] {
  return (process.env[envName] || (soak ? full : ci)).split(',').map(Number);
}
