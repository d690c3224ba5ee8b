/**
 * Can this host run this kernel? An unmodified Linux needs what some KVM
 * hosts lack (PVM: exceptions and int3 through the guest's IDT), and there
 * it would print nothing and spin; better one sentence before it starts,
 * naming where it can run (ARCHITECTURE rule 7).
 */
import { basename } from 'node:path';
import { isBzImage } from '../boot/detect';
import { hasBootSignature } from '../boot/bios-boot';
import { MEANINGS, type HostReport } from './probe/capabilities';

const LINUX_BANNER = Buffer.from('Linux version ');

/** A bzImage, or an ELF (vmlinux) with Linux's banner in it. */
export function isLinuxKernel(data: Uint8Array): boolean {
  if (isBzImage(data)) return true;
  const elf = data.length > 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
  return elf && Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(LINUX_BANNER) >= 0;
}

export class HostCannotRunError extends Error {}

/** Throws HostCannotRunError when `report` says this host cannot run a Linux kernel (the caller found `kernelPath` is one: isLinuxKernel). */
export function checkLinuxFits(kernelPath: string, report: HostReport): void {
  const linux = report.capabilities.find((c) => c.id === 'linux');
  if (!linux || linux.works) return;
  throw new HostCannotRunError(`${basename(kernelPath)} is a Linux kernel, and this host's KVM cannot run an unmodified Linux `
    + `(${linux.detail}): run it on hardware or nested KVM, or inside the KVM sandbox (test/sandbox/run; kvmdbg run uses it for you), `
    + `and see kvmdbg doctor for what this host can do (${MEANINGS.linux.title}: no)`);
}

/** A raw disk image kvmdbg boots through its BIOS (what detect.ts takes for one). */
export function isBiosBootDisk(data: Uint8Array): boolean {
  const elf = data.length > 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
  return hasBootSignature(data) && !elf && !isBzImage(data);
}

/** Throws HostCannotRunError when `report` says this host cannot run real-mode code (the caller found `kernelPath` is a BIOS boot disk). */
export function checkBootDiskFits(kernelPath: string, report: HostReport): void {
  const real = report.capabilities.find((c) => c.id === 'real-mode');
  if (!real || real.works) return;
  throw new HostCannotRunError(`${basename(kernelPath)} is a BIOS boot disk, which starts in real mode, and this host's KVM cannot run real-mode code `
    + `(${real.detail}): run it on hardware or nested KVM, or inside the KVM sandbox (test/sandbox/run; kvmdbg run uses it for you), `
    + `and see kvmdbg doctor (${MEANINGS['real-mode'].title}: no)`);
}
