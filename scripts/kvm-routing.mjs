// Where each KVM-tier file runs. A file names the host capabilities it needs
// in a header line of its source, `// kvm-needs: linux, dr-watchpoints`
// (names as `kvmdbg doctor` measures them, vmm/host/probe/capabilities.ts);
// a file without one needs a 64-bit guest and single steps. It runs on this
// host when its /dev/kvm has them all, otherwise inside the KVM sandbox;
// inside the sandbox a file whose needs the sandbox lacks too fails with the
// reason (never a silent skip).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export const BASE_NEEDS = ['long-mode', 'single-step'];

/** out/test/kvm/x.test.js -> the capabilities its test/kvm/x.test.ts declares (plus the base). */
export function needsOf(file) {
  const source = file.replace(/^out[\\/]/, '').replace(/\.js$/, '.ts');
  const text = existsSync(source) ? readFileSync(source, 'utf8') : '';
  const m = /^\/\/ kvm-needs: (.+)$/m.exec(text);
  const declared = m ? m[1].split(/[,\s]+/).filter(Boolean) : [];
  return [...new Set([...BASE_NEEDS, ...declared])];
}

/** This host's capability report (the same probe `kvmdbg doctor` prints), from the built tree. */
export function hostReport() {
  const r = spawnSync(process.execPath, ['-e', `require('./out/vmm/machine/host-probe.js').probeHost().then((r) => process.stdout.write(JSON.stringify(r)))`],
    { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`the host probe failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

/** The needs of `file` this host's report lacks, with the measured reason for each. */
export function missingNeeds(file, report) {
  const missing = [];
  for (const need of needsOf(file)) {
    const c = report.capabilities.find((x) => x.id === need);
    if (!c) missing.push(`${need} (not a capability the probe knows)`);
    else if (!c.works) missing.push(`${need} (${c.detail})`);
  }
  return missing;
}

/** Splits files into those this host runs and those it does not (with why). */
export function route(files, report) {
  const here = [];
  const away = [];
  for (const file of files) {
    const missing = report.flavour === 'none' ? [report.problem ?? 'no /dev/kvm'] : missingNeeds(file, report);
    if (missing.length === 0) here.push(file);
    else away.push({ file, missing });
  }
  return { here, away };
}
