// Shared by the KVM-tier tests: where the test kernels are, what they print,
// their symbols, and small waiting helpers with generous "doesn't hang" bounds
// (inside the sandbox everything is emulated and ~50x slower).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFile } from '../../../vmm/boot/elf';
import type { Machine } from '../../../vmm/machine/machine';
import type { VmEnd } from '../../../vmm/machine/protocol';

/** The repository root (this file runs as out/test/kvm/helpers/guests.js). */
export const ROOT = join(__dirname, '..', '..', '..', '..');
export const CLI = join(ROOT, 'bin', 'kvmdbg.js');
export const GUEST_DIR = join(ROOT, 'test', 'guests', 'build');

export type TestKernel = 'multiboot32' | 'pvh64' | 'elf64';
export const TEST_KERNELS: readonly TestKernel[] = ['multiboot32', 'pvh64', 'elf64'];

/** The 1-based line of a `/* bp:NAME *\/` marker in a test source (tests find lines by marker, never by number). */
export function markerLine(file: string, name: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(`/* bp:${name} */`));
  if (i < 0) throw new Error(`no /* bp:${name} */ in ${file}`);
  return i + 1;
}

export function kernelPath(name: TestKernel | 'demo'): string {
  return join(GUEST_DIR, `${name}.elf`);
}

/** How kvmdbg boots each file: the protocol word of the kernel's first line. */
export const PROTOCOL: Record<TestKernel, string> = { multiboot32: 'multiboot', pvh64: 'pvh', elf64: 'elf64' };

/** --memory 64M on kvmdbg's memory map: 639 KiB + 64512 KiB (test/guests/README.md). */
export const MEMORY_64M = 64 * 1024 * 1024;
export const MEMORY_64M_KIB = 65151;

/** The kernel's first line. */
export function banner(name: TestKernel): string {
  return `kvmdbg test kernel ${name} (${PROTOCOL[name]})\n`;
}

/** The complete default run of a test kernel (test/guests/README.md), exactly. */
export function defaultOutput(name: TestKernel, cmdline = ''): string {
  return banner(name)
    + `cmdline: ${cmdline}\n`
    + `memory: ${MEMORY_64M_KIB} KiB\n`
    + 'fib(20) = 6765\n'
    + 'checksum = 0xa7ecfaa9\n'
    + 'mmio read: 0xffffffff\n'
    + 'pci 00:00.0: 8086:29c0\n'
    + 'step result = 0x1234abcd\n'
    + 'done\n';
}

const elfCache = new Map<string, ElfFile>();

/** A symbol's address in a test kernel (physical == virtual: linked at 1 MiB, identity-mapped). */
export function symbol(name: TestKernel | 'demo', sym: string): number {
  const path = kernelPath(name);
  let elf = elfCache.get(path);
  if (!elf) { elf = new ElfFile(path, readFileSync(path)); elfCache.set(path, elf); }
  const found = elf.symbols().find((s) => s.name === sym && s.shndx !== 0);
  if (!found) throw new Error(`${path} has no symbol '${sym}'`);
  return Number(found.value);
}

export function hex(v: number | bigint): string {
  return '0x' + v.toString(16);
}

/** Rejects with `what` when `p` takes longer than `ms` (a hang, not a timing claim). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms / 1000} s (hung?)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Collects a machine's console output as text and waits for strings in it. */
export class Console {
  private chunks: Buffer[] = [];
  private waiters: { text: string; resolve: () => void }[] = [];

  constructor(machine: Machine) {
    machine.on('output', (bytes: Uint8Array) => {
      this.chunks.push(Buffer.from(bytes));
      const all = this.text;
      this.waiters = this.waiters.filter((w) => {
        if (all.includes(w.text)) { w.resolve(); return false; }
        return true;
      });
    });
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  /** Resolves once the output contains `text`; fails with what was printed after `ms`. */
  waitFor(text: string, ms: number): Promise<void> {
    if (this.text.includes(text)) return Promise.resolve();
    const seen = new Promise<void>((resolve) => this.waiters.push({ text, resolve }));
    return within(seen, ms, `waiting for ${JSON.stringify(text)} (output so far: ${JSON.stringify(this.text)})`);
  }
}

/** Waits for the VM to end; on a hang, stops it and fails. */
export async function ended(machine: Machine, ms: number, what = 'the guest to finish'): Promise<VmEnd> {
  try {
    return await within(machine.whenEnded(), ms, what);
  } catch (e) {
    await machine.stop('test timeout').catch(() => {});
    throw e;
  }
}

/** Boot timeouts: generous enough for the sandbox's emulated CPU. */
export const BOOT_MS = 120_000;
