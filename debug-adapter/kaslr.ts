/**
 * KASLR slide detection for a Linux x86-64 kernel: where the running kernel
 * is compared to the addresses its vmlinux or System.map was linked at.
 *
 * The adapter adds `nokaslr` when the symbols are Linux, but a kernel may
 * randomize anyway (the user kept `kaslr`, a distribution default, a kernel
 * that ignores the option). The decompressor then moves the whole kernel
 * image by one amount, a multiple of CONFIG_PHYSICAL_ALIGN (2 MiB at least),
 * inside the 1 GiB kernel-image mapping at 0xffffffff80000000, and keeps it
 * there until the next boot.
 *
 * How we find it, at a stop, through the stopped vCPU's page tables: the
 * kernel's own `linux_banner` ("Linux version ...", in .rodata, always
 * mapped while the kernel's page tables are live) is read at its linked
 * address plus each possible slide (the linked one first); the slide where
 * the banner is (with an ELF, byte for byte what the file holds; with a
 * System.map, its "Linux version " prefix) is the kernel's. No guessing from
 * RIP (which may be in a module, user space or the decompressor), no
 * reliance on kernel data layouts (phys_base, kaslr_offset()) that change
 * between versions. Before the kernel's page tables exist (the decompressor,
 * the PVH 32-bit entry) or while a user address space without the kernel
 * image is loaded (PTI), nothing is found and the next stop tries again.
 */

/** Where x86-64 Linux maps its image (__START_KERNEL_map) and how far KASLR may move it (KERNEL_IMAGE_SIZE with RANDOMIZE_BASE). */
export const KERNEL_MAP_START = 0xffff_ffff_8000_0000n;
export const KERNEL_IMAGE_SIZE = 0x4000_0000n;
/** The smallest CONFIG_PHYSICAL_ALIGN on x86-64: every slide is a multiple of it. */
export const SLIDE_STEP = 0x20_0000n;
export const BANNER_PREFIX = 'Linux version ';

/** Reads guest virtual memory; undefined when any byte is unmapped. */
export type ReadVirtual = (address: bigint, length: number) => Uint8Array | undefined;

export interface SlideProbe {
  /** `linux_banner`'s linked address. */
  bannerAddress: bigint;
  /** What must be at the banner: the file's bytes (ELF), else the "Linux version " prefix. */
  expected: Uint8Array;
}

/** Candidate slides, the linked address first, then every step that keeps the banner inside the kernel-image mapping. */
export function candidateSlides(bannerAddress: bigint): bigint[] {
  const out = [0n];
  if (bannerAddress < KERNEL_MAP_START || bannerAddress >= KERNEL_MAP_START + KERNEL_IMAGE_SIZE) return out;
  for (let s = SLIDE_STEP; bannerAddress + s < KERNEL_MAP_START + KERNEL_IMAGE_SIZE; s += SLIDE_STEP) out.push(s);
  for (let s = -SLIDE_STEP; bannerAddress + s >= KERNEL_MAP_START; s -= SLIDE_STEP) out.push(s);
  return out;
}

/** The slide at which the banner is found, or undefined (kernel not mapped here yet). */
export function detectSlide(probe: SlideProbe, read: ReadVirtual): bigint | undefined {
  const n = probe.expected.length;
  for (const slide of candidateSlides(probe.bannerAddress)) {
    const got = read(BigInt.asUintN(64, probe.bannerAddress + slide), n);
    if (got && got.length === n && got.every((b, i) => b === probe.expected[i])) return slide;
  }
  return undefined;
}

const hex = (v: bigint): string => (v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16));

/** What the debug console says once the slide is known. */
export function slideNote(slide: bigint, bannerAddress: bigint, symbolsName: string): string {
  if (slide === 0n) return `kvmdbg: the kernel runs at the addresses ${symbolsName} was linked at (no KASLR slide)`;
  return `kvmdbg: KASLR is on: the kernel runs ${hex(slide)} from the addresses ${symbolsName} was linked at `
    + `(linux_banner at ${hex(BigInt.asUintN(64, bannerAddress + slide))}, linked at ${hex(bannerAddress)}); `
    + 'symbols, source lines, stacks and breakpoints are rebased by that much';
}

/**
 * Follows one session: knows the probe (from the symbols), tries at each
 * stop until the slide is found, then stays quiet (a kernel does not move
 * once it runs).
 */
export class KaslrTracker {
  private found?: bigint;

  constructor(private readonly probe: SlideProbe, private readonly symbolsName: string) {}

  get slide(): bigint | undefined { return this.found; }

  /** At a stop: the slide and the sentence for the console the first time it is found, else undefined. */
  check(read: ReadVirtual): { slide: bigint; note: string } | undefined {
    if (this.found !== undefined) return undefined;
    const slide = detectSlide(this.probe, read);
    if (slide === undefined) return undefined;
    this.found = slide;
    return { slide, note: slideNote(slide, this.probe.bannerAddress, this.symbolsName) };
  }
}

/**
 * The probe for a Linux kernel's symbols: `linux_banner`'s address, and the
 * banner's bytes from the ELF when it has them (up to the first NUL, at
 * most 128), else the prefix every banner starts with.
 */
export function bannerProbe(bannerAddress: bigint | undefined, fileBytes?: Uint8Array): SlideProbe | undefined {
  if (bannerAddress === undefined) return undefined;
  const prefix = new TextEncoder().encode(BANNER_PREFIX);
  let expected: Uint8Array = prefix;
  if (fileBytes && fileBytes.length >= prefix.length && prefix.every((b, i) => fileBytes[i] === b)) {
    let end = 0;
    while (end < fileBytes.length && end < 128 && fileBytes[end] !== 0) end++;
    expected = fileBytes.subarray(0, end);
  }
  return { bannerAddress, expected };
}

/** The tracker for a session's symbols, when they are a Linux kernel's (they have `linux_banner`). */
export function kaslrTrackerFor(symbols: {
  name: string;
  table: { lookup(name: string): { address: bigint } | undefined };
  linkedBytes(address: bigint, length: number): Uint8Array | undefined;
}): KaslrTracker | undefined {
  const banner = symbols.table.lookup('linux_banner')?.address;
  const probe = bannerProbe(banner, banner === undefined ? undefined : symbols.linkedBytes(banner, 128));
  return probe && new KaslrTracker(probe, symbols.name);
}

/**
 * Moves breakpoints resolved before the slide was known (source lines and
 * function names: link-time addresses) to where the code is; instruction
 * breakpoints, literal `*0x...` function breakpoints and watchpoints were
 * given as run-time addresses and stay. Returns the breakpoints moved.
 */
export function rebaseBreakpoints<B extends { kind: string; key: string; addresses: bigint[] }>(
  list: readonly B[], toRuntime: (linked: bigint) => bigint,
): B[] {
  const moved: B[] = [];
  for (const b of list) {
    if (b.kind !== 'source' && b.kind !== 'hook' && (b.kind !== 'function' || /^fn:\*?0x[0-9a-f]+$/i.test(b.key))) continue;
    const next = b.addresses.map(toRuntime);
    if (next.some((a, i) => a !== b.addresses[i])) { b.addresses = next; moved.push(b); }
  }
  return moved;
}
