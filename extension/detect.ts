/**
 * What to boot when the user presses F5 without a launch.json: a Linux tree
 * (vmlinux + arch/x86/boot/bzImage), else a PVH / multiboot / x86-64 ELF
 * kernel or a bzImage somewhere in the workspace. Plain Node (no VS Code),
 * cheap: a bounded walk, and at most the first 64 KiB of each candidate.
 */
import { closeSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import { basename, join, relative } from 'node:path';

export type KernelKind = 'linux-tree' | 'pvh' | 'multiboot' | 'elf64' | 'bzImage';

export interface KernelCandidate {
  kind: KernelKind;
  /** What to boot. */
  kernel: string;
  /** Where symbols come from (vmlinux for a Linux tree). */
  symbols?: string;
  /** Newest modification time among kernel and symbols (ms). */
  mtimeMs: number;
}

export interface Detection {
  /** Best first. */
  candidates: KernelCandidate[];
  /** Files examined (bounded by maxFiles). */
  scanned: number;
  /** Newest source file seen during the walk (for "the build is older than its sources"). */
  newestSource?: { path: string; mtimeMs: number };
}

export interface DetectOptions {
  /** Stop the walk after this many files (default 5000). */
  maxFiles?: number;
  /** Do not descend deeper than this (default 6). */
  maxDepth?: number;
}

const SKIP_DIRS = new Set(['node_modules', '.git', '.hg', '.svn', '.vscode', '.cache', 'out', 'dist', '__pycache__', 'target/debug/deps']);
const SOURCE_EXT = /\.(c|h|cc|cpp|hpp|S|s|asm|nasm|rs|zig|ld|lds)$/;
const RANK: Record<KernelKind, number> = { 'linux-tree': 0, pvh: 1, multiboot: 2, elf64: 3, bzImage: 4 };

function readHead(path: string, size: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size);
    const n = readSync(fd, buf, 0, size, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function readAt(path: string, offset: number, size: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size);
    const n = readSync(fd, buf, 0, size, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const MULTIBOOT1_MAGIC = 0x1badb002;
const MULTIBOOT2_MAGIC = 0xe85250d6;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const PT_NOTE = 4;
const EM_386 = 3;
const EM_X86_64 = 62;
const ET_EXEC = 2;

/** Classifies one file from its first bytes; undefined when it is not a kernel we can boot. */
export function classifyKernelFile(path: string, size: number): Exclude<KernelKind, 'linux-tree'> | undefined {
  if (size < 512) return undefined;
  let head: Buffer;
  try {
    head = readHead(path, 64 * 1024);
  } catch {
    return undefined;
  }
  // Linux boot protocol: "HdrS" at 0x202.
  if (head.length > 0x206 && head.toString('latin1', 0x202, 0x206) === 'HdrS') return 'bzImage';
  const isElf = head[0] === 0x7f && head.toString('latin1', 1, 4) === 'ELF';
  // Multiboot header: 4-aligned, within the first 8 KiB (v1) / 32 KiB (v2), checksum makes the sum 0.
  const mbEnd = Math.min(head.length - 12, 32 * 1024);
  for (let off = 0; off <= mbEnd; off += 4) {
    const magic = head.readUInt32LE(off);
    if (magic === MULTIBOOT1_MAGIC && off < 8192) {
      if (((magic + head.readUInt32LE(off + 4) + head.readUInt32LE(off + 8)) >>> 0) === 0) return isElf && pvhNote(path, head) ? 'pvh' : 'multiboot';
    } else if (magic === MULTIBOOT2_MAGIC && (off & 7) === 0) {
      if (((magic + head.readUInt32LE(off + 4) + head.readUInt32LE(off + 8) + head.readUInt32LE(off + 12)) >>> 0) === 0) return isElf && pvhNote(path, head) ? 'pvh' : 'multiboot';
    }
  }
  if (!isElf || head.length < 64) return undefined;
  const cls = head[4];
  const le = head[5] === 1;
  if (!le) return undefined;
  const type = head.readUInt16LE(16);
  const machine = head.readUInt16LE(18);
  if (type !== ET_EXEC || (machine !== EM_X86_64 && machine !== EM_386)) return undefined;
  if (pvhNote(path, head)) return 'pvh';
  return cls === 2 && machine === EM_X86_64 ? 'elf64' : undefined;
}

/** True when an ELF's PT_NOTE segments carry Xen's PHYS32_ENTRY note (PVH). */
export function pvhNote(path: string, head: Buffer): boolean {
  try {
    const is64 = head[4] === 2;
    const phoff = is64 ? Number(head.readBigUInt64LE(32)) : head.readUInt32LE(28);
    const phentsize = head.readUInt16LE(is64 ? 54 : 42);
    const phnum = Math.min(head.readUInt16LE(is64 ? 56 : 44), 64);
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      const ph = at + phentsize <= head.length ? head.subarray(at, at + phentsize) : readAt(path, at, phentsize);
      if (ph.length < phentsize || ph.readUInt32LE(0) !== PT_NOTE) continue;
      const offset = is64 ? Number(ph.readBigUInt64LE(8)) : ph.readUInt32LE(4);
      const filesz = Math.min(is64 ? Number(ph.readBigUInt64LE(32)) : ph.readUInt32LE(16), 64 * 1024);
      const notes = readAt(path, offset, filesz);
      for (let p = 0; p + 12 <= notes.length;) {
        const namesz = notes.readUInt32LE(p);
        const descsz = notes.readUInt32LE(p + 4);
        const ntype = notes.readUInt32LE(p + 8);
        const name = notes.toString('latin1', p + 12, p + 12 + Math.max(0, namesz - 1));
        if (name === 'Xen' && ntype === XEN_ELFNOTE_PHYS32_ENTRY) return true;
        p += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
      }
    }
  } catch { /* malformed: not PVH */ }
  return false;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** A Linux build tree: vmlinux next to arch/x86/boot/bzImage. */
export function linuxTree(dir: string): KernelCandidate | undefined {
  const vmlinux = join(dir, 'vmlinux');
  const bz = join(dir, 'arch', 'x86', 'boot', 'bzImage');
  const a = statOrUndefined(vmlinux);
  const b = statOrUndefined(bz);
  if (!a?.isFile() || !b?.isFile()) return undefined;
  return { kind: 'linux-tree', kernel: bz, symbols: vmlinux, mtimeMs: Math.max(a.mtimeMs, b.mtimeMs) };
}

/** Walks `root` (bounded) and returns bootable kernels, best first. */
export function detectKernels(root: string, options: DetectOptions = {}): Detection {
  const maxFiles = options.maxFiles ?? 5000;
  const maxDepth = options.maxDepth ?? 6;
  const candidates: KernelCandidate[] = [];
  let scanned = 0;
  let newestSource: Detection['newestSource'];
  const queue: [string, number][] = [[root, 0]];
  const seenLinux = new Set<string>();
  while (queue.length > 0 && scanned < maxFiles) {
    const [dir, depth] = queue.shift()!;
    const tree = linuxTree(dir);
    if (tree && !seenLinux.has(dir)) {
      seenLinux.add(dir);
      candidates.push(tree);
      continue; // a kernel tree has ~70k files: do not walk it
    }
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (scanned >= maxFiles) break;
      const p = join(dir, name);
      const st = statOrUndefined(p);
      if (!st) continue;
      if (st.isDirectory()) {
        if (depth < maxDepth && !SKIP_DIRS.has(name) && !name.startsWith('.')) queue.push([p, depth + 1]);
        continue;
      }
      if (!st.isFile()) continue;
      scanned++;
      if (SOURCE_EXT.test(name)) {
        if (!newestSource || st.mtimeMs > newestSource.mtimeMs) newestSource = { path: p, mtimeMs: st.mtimeMs };
        continue;
      }
      if (/\.(o|a|so|ko|json|md|txt|png|jpg|gz|xz|zip|vsix|js|ts|map)$/.test(name)) continue;
      const kind = classifyKernelFile(p, st.size);
      if (kind) candidates.push({ kind, kernel: p, mtimeMs: st.mtimeMs });
    }
  }
  candidates.sort((a, b) => RANK[a.kind] - RANK[b.kind] || depthOf(root, a.kernel) - depthOf(root, b.kernel) || b.mtimeMs - a.mtimeMs);
  return { candidates, scanned, newestSource };
}

function depthOf(root: string, p: string): number {
  return relative(root, p).split(/[\\/]/).length;
}

const KIND_WORDS: Record<KernelKind, string> = {
  'linux-tree': 'a Linux build tree',
  pvh: 'a PVH kernel',
  multiboot: 'a multiboot kernel',
  elf64: 'a 64-bit ELF kernel',
  bzImage: 'a Linux bzImage',
};

export function describeCandidate(c: KernelCandidate, root: string): string {
  const rel = (p: string): string => relative(root, p) || basename(p);
  return c.kind === 'linux-tree'
    ? `${KIND_WORDS[c.kind]}: booting ${rel(c.kernel)} with symbols from ${rel(c.symbols!)}`
    : `${KIND_WORDS[c.kind]}: booting ${rel(c.kernel)}`;
}

/** Is the choice obvious? One candidate, or one of a better kind than all others. */
export function obviousChoice(d: Detection): KernelCandidate | undefined {
  const [first, second] = d.candidates;
  if (!first) return undefined;
  if (!second || RANK[second.kind] > RANK[first.kind]) return first;
  return undefined;
}

/** The launch configuration F5 uses for a detected kernel (paths relative to ${workspaceFolder}). */
export function configurationFor(c: KernelCandidate, root: string): Record<string, unknown> {
  const ws = (p: string): string => '${workspaceFolder}/' + relative(root, p).split(/[\\/]/).join('/');
  const cfg: Record<string, unknown> = { type: 'kvm', request: 'launch', name: `Boot ${basename(c.kernel)} (KVM)`, kernel: ws(c.kernel) };
  if (c.symbols) cfg.symbols = ws(c.symbols);
  if (c.kind === 'linux-tree' || c.kind === 'bzImage') cfg.cmdline = 'console=ttyS0 nokaslr';
  return cfg;
}

/** The build looks stale: a source file is newer than the kernel (the sentence to show), else undefined. */
export function staleBuild(c: KernelCandidate, d: Detection, root: string): string | undefined {
  const src = d.newestSource;
  if (!src || src.mtimeMs <= c.mtimeMs + 1000) return undefined;
  return `${relative(root, c.kernel)} is older than ${relative(root, src.path)}: the kernel may not match its sources`;
}
