/**
 * Starting a VM can fail because of the host's state rather than a bug: one
 * sentence that says what to do (ARCHITECTURE rule 7). The errnos people can
 * act on:
 *   EMFILE/ENFILE  the process (or the system) is out of file descriptors:
 *                  each VM takes several (the VM, each vCPU, its worker
 *                  thread, the disks), so many VMs or sessions run them out
 *   ENOMEM         the host cannot give KVM another VM, vCPU or memory slot
 *   EBUSY          another hypervisor holds the CPU's virtualization (VT-x/SVM
 *                  is per CPU: VirtualBox or VMware running beside us)
 *   ENOSPC         KVM's limit on vCPUs or memory slots
 * The failure may come from the addon (KvmError: "KVM_CREATE_VCPU failed:
 * EMFILE (...)"), from Node ("Worker initialization failure: EMFILE",
 * "EMFILE: too many open files, open ...") and usually crosses the vCPU
 * thread's boundary as a message only, so the errno is read from the error's
 * code or its message. No native import here: the extension host loads vmm/host.
 */
const CODES = ['EMFILE', 'ENFILE', 'ENOMEM', 'EBUSY', 'ENOSPC'] as const;
type Code = typeof CODES[number];

/** One sentence for `code`; `detail` says which call failed ("KVM_CREATE_VCPU: EMFILE"). */
export function hostAdvice(code: Code, detail: string): string {
  switch (code) {
    case 'EMFILE':
      return `the VM could not start: this process has too many open files (${detail}); `
        + 'close other VMs or debug sessions, or raise the limit (ulimit -n 4096), and try again';
    case 'ENFILE':
      return `the VM could not start: the host has too many open files (${detail}); `
        + 'close other programs or VMs, or raise fs.file-max, and try again';
    case 'ENOMEM':
      return `the VM could not start: the host is out of memory for it (${detail}); `
        + 'close other VMs or give this one less memory (--memory, or "memory" in launch.json), and try again';
    case 'EBUSY':
      return `KVM is busy (${detail}): another hypervisor (VirtualBox, VMware) may hold the CPU's virtualization; close it and try again`;
    case 'ENOSPC':
      return `KVM refused another vCPU or memory slot (${detail}): use fewer vCPUs (--cpus) or less memory`;
  }
}

function codeOf(e: Error & { code?: unknown }): Code | undefined {
  if (typeof e.code === 'string' && (CODES as readonly string[]).includes(e.code)) return e.code as Code;
  return CODES.find((c) => new RegExp(`\\b${c}\\b`).test(e.message));
}

/** A shorter form of the original message for the parentheses ("KVM_CREATE_VCPU: EMFILE"). */
function detailOf(e: Error, code: Code): string {
  const ioctl = /\b(KVM_[A-Z0-9_]+)\b/.exec(e.message)?.[1];
  if (ioctl) return `${ioctl}: ${code}`;
  if (/opening \S*kvm/i.test(e.message)) return `opening the KVM device: ${code}`;
  if (/^Worker initialization failure/.test(e.message)) return `starting the vCPU thread: ${code}`;
  const open = /open '([^']+)'/.exec(e.message);
  if (open) return `opening ${open[1]}: ${code}`;
  return code;
}

/** Marks the sentences this module made, so that a second pass leaves them alone. */
const ADVISED = /^(the VM could not start: |KVM is busy |KVM refused another)/;

/**
 * The error to show for a failure while starting a VM: a new Error with the
 * advice when the errno is one of the above, else the error itself.
 */
export function explainHostFailure(e: unknown): unknown {
  if (!(e instanceof Error) || ADVISED.test(e.message)) return e;
  const code = codeOf(e);
  if (!code) return e;
  // EBUSY and ENOSPC mean "KVM is busy / full" only when KVM said them (a busy --disk is not KVM's).
  const fromKvm = /\bKVM_[A-Z0-9_]+\b|opening \S*kvm/i.test(e.message);
  if ((code === 'EBUSY' || code === 'ENOSPC') && !fromKvm) return e;
  const out = new Error(hostAdvice(code, detailOf(e, code)));
  Object.assign(out, { code, cause: e });
  return out;
}
