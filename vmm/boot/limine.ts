/**
 * The Limine boot protocol (PROTOCOL.md of limine-bootloader/limine-protocol,
 * base revisions 0 to 6): a 64-bit ELF kernel linked in the top 2 GiB whose
 * requests (found by their magic IDs in the loaded image, limine-scan.ts)
 * are answered in place. kvmdbg builds the world Limine would: the image
 * physically contiguous from 1 MiB (limine-image.ts), modules and the
 * kernel file after it, page tables with the HHDM at the start of the upper
 * half for the paging mode (0xffff800000000000 for 4-level, 0xff00000000000000
 * for 5-level) and the kernel at its virtual addresses, the GDT, stacks,
 * responses and the AP parking loop in one bootloader-reclaimable run, the
 * memory map last (it describes that run), then long mode at the entry
 * point. The base revision tag's third word is set to 0 (supported) and its
 * second to the revision used.
 *
 * Answered: bootloader info, executable command line, firmware type (x86
 * BIOS), stack size, HHDM, framebuffer (the Bochs VBE set to 1024x768x32),
 * paging mode, MP, memory map, entry point, executable file, modules, RSDP,
 * date at boot, executable address, keep-IOMMU, entropy. Relocatable (ELF DYN)
 * kernels are slid and relocated (limine-reloc.ts). Not answered (the
 * response stays NULL): SMBIOS, EFI system table and memory map, DTB, TPM
 * event log, bootloader performance, TSC frequency, Flanterm parameters,
 * the RISC-V BSP hart.
 */
import { resolve } from 'node:path';
import { BootError, BootInfo } from './boot-state';
import { ELFCLASS64, EM_X86_64, ElfFile, PT_LOAD } from './elf';
import { hex, size } from './format';
import { checkBootArea, lowRamEnd, placeModules } from './layout';
import { LoadKernelOptions } from './options';
import { BootAllocator } from './limine-alloc';
import { AnswerWorld, BUILDERS, FramebufferMode, PlacedFile } from './limine-answers';
import { limineCpuState, writeLimineGdt } from './limine-cpu';
import {
  DEFAULT_STACK_SIZE, HHDM_4LVL, HHDM_5LVL, MAX_BASE_REVISION, PAGING_MODE_4LVL, PAGING_MODE_5LVL,
  REQUEST_RESPONSE, REQUEST_REVISION, RequestName, requestTitle,
} from './limine-ids';
import { imagePhysical, LimineImage, loadLimineImage, PF_W, PF_X } from './limine-image';
import { hhdmRanges, limineMemmap, MemmapInput, Span } from './limine-memmap';
import { applyRelocations } from './limine-reloc';
import { hostHasLa57, LiminePageTables, RWX } from './limine-paging';
import { FoundRequest, hasLimineMagic, scanLimine } from './limine-scan';
import { answerMp } from './limine-smp';
import { writeAcpiTables } from '../acpi/tables';
import { VBE_DISPI_LFB_PHYSICAL_ADDRESS } from '../devices/bochs-vbe';
import { kvmdbgVersion } from '../host/kvm-host';
import { GuestMemory, PAGE_SIZE } from '../memory/guest-memory';
import { pcMemoryMap } from '../memory/memory-map';

/** What the loader asks of the host; tests pass their own. */
export interface LimineHost {
  la57: boolean;
  /** UNIX time in seconds (the RTC's source: the host clock). */
  now(): number;
}

export const FRAMEBUFFER_WIDTH = 1024;
export const FRAMEBUFFER_HEIGHT = 768;
const FRAMEBUFFER_BPP = 32;
const MAX_STACK = 256 * 1024 * 1024;

/** Whether this ELF is a Limine kernel: x86-64 ELF64 with a Limine magic (request ID, base revision tag, start marker) in a loadable segment. */
export function isLimineKernel(elf: ElfFile): boolean {
  if (elf.data[4] !== ELFCLASS64 || elf.header.machine !== EM_X86_64) return false;
  return elf.programHeaders.some((ph) => ph.type === PT_LOAD && ph.filesz > 0 && hasLimineMagic(elf.segmentData(ph), ph.vaddr));
}

const defaultHost = (): LimineHost => ({ la57: hostHasLa57(), now: () => Math.floor(Date.now() / 1000) });

export function loadLimine(opts: LoadKernelOptions, elf: ElfFile, host: LimineHost = defaultHost()): BootInfo {
  const { kernelPath: file, memory } = opts;
  if (elf.data[4] !== ELFCLASS64 || elf.header.machine !== EM_X86_64) throw new BootError(file, 'is not an x86-64 ELF64, which the Limine protocol needs here');
  checkBootArea(file, memory);
  const e820 = pcMemoryMap(memory);
  const image = loadLimineImage(elf, memory, e820);
  applyRelocations(elf, image, memory);
  const bytes = memory.view8(image.physicalBase, image.size);
  let scan = scanLimine(file, bytes, image.virtualBase);
  const requested = scan.baseRevision?.requested ?? 0n;
  if (requested > BigInt(MAX_BASE_REVISION)) {
    throw new BootError(file, `asks for Limine base revision ${requested}; kvmdbg implements base revisions 0 to ${MAX_BASE_REVISION} (the latest the protocol specifies) and, as the protocol recommends, refuses a revision it does not know rather than boot it under other rules`);
  }
  const revision = Number(requested);
  if (revision === 0) {
    const list = limineReqsList(file, elf, image, memory);
    if (list) scan = scanLimine(file, bytes, image.virtualBase, list);
  }
  const found = new Map(scan.requests.map((r) => [r.name, r]));
  const field = (name: RequestName, offset: number): bigint | undefined => {
    const r = found.get(name);
    return r && readField(file, memory, image, r, offset);
  };

  const pagingMode = choosePagingMode(file, host, found.has('pagingMode') ? {
    mode: field('pagingMode', 48)!,
    revision: field('pagingMode', REQUEST_REVISION)!,
    max: () => field('pagingMode', 56)!, min: () => field('pagingMode', 64)!,
  } : undefined);
  const fiveLevel = pagingMode === PAGING_MODE_5LVL;
  const hhdm = fiveLevel ? HHDM_5LVL : HHDM_4LVL;
  const stackSize = chooseStackSize(file, memory, field('stackSize', 48));
  const entry = field('entryPoint', 48) ?? elf.header.entry + image.slide;
  checkEntry(file, image, entry, found.has('entryPoint'));

  // Kernel, modules and the kernel file: one EXECUTABLE_AND_MODULES run.
  const imageEnd = image.physicalBase + image.size;
  const placed = placeModules(memory, imageEnd, opts.modules);
  let execEnd = Math.max(imageEnd, ...placed.map((m) => m.addr + m.size));
  execEnd = Math.ceil(execEnd / PAGE_SIZE) * PAGE_SIZE;
  const kernelPath = resolve(file);
  let kernelFile: PlacedFile | undefined;
  if (found.has('executableFile')) {
    if (execEnd + opts.kernel.length > lowRamEnd(memory)) throw new BootError(file, `its executable file request needs a copy of the kernel file (${size(opts.kernel.length)}), which does not fit in guest RAM after the kernel and its modules; use a larger --memory`);
    memory.write(execEnd, opts.kernel);
    kernelFile = { addr: execEnd, size: opts.kernel.length, path: kernelPath, string: opts.cmdline };
    execEnd = Math.ceil((execEnd + opts.kernel.length) / PAGE_SIZE) * PAGE_SIZE;
  }
  const executable = { start: image.physicalBase, end: execEnd };
  const alloc = new BootAllocator(memory, file, execEnd, lowRamEnd(memory));
  const rsdp = writeAcpiTables(memory, opts.cpus ?? 1, opts.virtio ?? []);
  const gdt = hhdm + BigInt(writeLimineGdt(memory, alloc));
  const fb: FramebufferMode | undefined = found.has('framebuffer') ? {
    address: VBE_DISPI_LFB_PHYSICAL_ADDRESS, width: FRAMEBUFFER_WIDTH, height: FRAMEBUFFER_HEIGHT,
    bpp: FRAMEBUFFER_BPP, pitch: FRAMEBUFFER_WIDTH * (FRAMEBUFFER_BPP / 8),
  } : undefined;
  const fbSpan = fb && { start: fb.address, end: fb.address + fb.pitch * fb.height };
  const mapInput = (reclaimEnd: number): MemmapInput => ({ e820, revision, executable, reclaimable: { start: alloc.start, end: reclaimEnd }, framebuffer: fbSpan });

  const tables = new LiminePageTables(memory, alloc, fiveLevel ? 5 : 4, true);
  // Which physical ranges the HHDM covers depends on the kinds of memory only, not on where the reclaimable run ends.
  const spans = hhdmRanges(limineMemmap(mapInput(alloc.start + PAGE_SIZE)), revision);
  // The framebuffer's pages are write-combining (PAT 5); every other HHDM page write-back.
  for (const s of fbSpan ? cut(spans, fbSpan) : spans) tables.mapRange(hhdm + BigInt(s.start), s.start, s.end - s.start, RWX);
  if (fbSpan) tables.mapRange(hhdm + BigInt(fbSpan.start), fbSpan.start, fbSpan.end - fbSpan.start, { ...RWX, wc: true });
  if (revision === 0) {
    for (const s of spans) if (s.end > PAGE_SIZE) tables.mapRange(BigInt(Math.max(s.start, PAGE_SIZE)), Math.max(s.start, PAGE_SIZE), s.end - Math.max(s.start, PAGE_SIZE), RWX);
  }
  mapKernel(tables, image);

  const stack = alloc.alloc(stackSize, 'the boot stack', PAGE_SIZE);
  const rsp = hhdm + BigInt(stack + stackSize) - 8n;
  const world = (name: RequestName): AnswerWorld => ({
    memory, alloc, hhdm, revision, loaderVersion: loaderVersion(), cmdline: opts.cmdline, kernelFile,
    modules: placed.map((m) => ({ addr: m.addr, size: m.size, path: resolve(m.path), string: m.cmdline ?? '' })),
    rsdp, pagingMode, bootTime: host.now(), physicalBase: image.physicalBase, virtualBase: image.virtualBase,
    framebuffer: fb, field: (offset) => field(name, offset)!,
  });
  const respond = (r: FoundRequest, at: number) => memory.writeU64(image.physicalBase + r.offset + REQUEST_RESPONSE, hhdm + BigInt(at));
  for (const r of scan.requests) {
    const at = BUILDERS[r.name]?.(world(r.name));
    if (at !== undefined) respond(r, at);
  }
  let aps: BootInfo['aps'];
  const mp = found.get('mp');
  if (mp) {
    const answer = answerMp({ memory, alloc, hhdm, cpus: opts.cpus ?? 1, stackSize, cr3: tables.root, fiveLevel, gdt });
    respond(mp, answer.response);
    aps = answer.aps;
  }
  const memmap = found.get('memmap');
  if (memmap) respond(memmap, writeMemmap(memory, alloc, hhdm, mapInput));

  if (scan.baseRevision) {
    const at = image.physicalBase + scan.baseRevision.offset;
    memory.writeU64(at, 0n);
    memory.writeU64(at - 8, BigInt(revision));
  }
  return {
    protocol: 'limine',
    cpu: limineCpuState({ rip: entry, rsp, cr3: tables.root, fiveLevel, gdt }),
    aps,
    framebuffer: fb && { width: fb.width, height: fb.height, bpp: fb.bpp },
    imageStart: image.physicalBase,
    imageEnd,
    entry: imagePhysical(image, entry)!,
    description: `Limine protocol, base revision ${revision}, entry ${hex(entry)}, HHDM ${hex(hhdm)}, ${fiveLevel ? 5 : 4}-level paging`,
  };
}

/** `spans` without `hole`. */
function cut(spans: readonly Span[], hole: Span): Span[] {
  return spans.flatMap((s) => (hole.end <= s.start || hole.start >= s.end ? [s]
    : [{ start: s.start, end: hole.start }, { start: hole.end, end: s.end }].filter((p) => p.end > p.start)));
}

function readField(file: string, memory: GuestMemory, image: LimineImage, r: FoundRequest, offset: number): bigint {
  if (r.offset + offset + 8 > image.size) {
    throw new BootError(file, `its Limine ${requestTitle(r.name)} request at ${hex(r.vaddr)} is cut off by the end of the loaded image (the field at +${offset} is missing)`);
  }
  return memory.readU64(image.physicalBase + r.offset + offset);
}

interface PagingRequest { mode: bigint; revision: bigint; max(): bigint; min(): bigint }

/** The kernel's preferred mode if the host has it and it is within [min, max], else the highest available one in range. */
function choosePagingMode(file: string, host: LimineHost, req?: PagingRequest): number {
  const available = host.la57 ? [PAGING_MODE_5LVL, PAGING_MODE_4LVL] : [PAGING_MODE_4LVL];
  if (!req) return PAGING_MODE_4LVL;
  const max = req.revision >= 1n ? req.max() : req.mode;
  const min = req.revision >= 1n ? req.min() : 0n;
  const ok = (m: number) => BigInt(m) >= min && BigInt(m) <= max;
  if (available.includes(Number(req.mode)) && req.mode <= 1n && ok(Number(req.mode))) return Number(req.mode);
  const pick = available.find(ok);
  if (pick === undefined) {
    throw new BootError(file, `its Limine paging mode request allows modes ${min} to ${max}, and this host offers ${host.la57 ? '4- and 5-level paging (0, 1)' : 'only 4-level paging (0): its CPU has no LA57'}`);
  }
  return pick;
}

function chooseStackSize(file: string, memory: GuestMemory, asked: bigint | undefined): number {
  if (asked === undefined || asked === 0n) return DEFAULT_STACK_SIZE;
  const limit = Math.min(MAX_STACK, memory.ramBytes / 4);
  if (asked > BigInt(limit)) throw new BootError(file, `its Limine stack size request asks for ${hex(asked)} bytes; kvmdbg gives at most ${size(limit)} a CPU with this much RAM`);
  return Math.ceil(Number(asked) / PAGE_SIZE) * PAGE_SIZE;
}

function checkEntry(file: string, image: LimineImage, entry: bigint, requested: boolean): void {
  const inCode = image.segments.some((s) => s.flags & PF_X && entry >= s.vaddr && entry < s.vaddr + BigInt(s.memsz));
  if (!inCode) {
    throw new BootError(file, `${requested ? 'its Limine entry point request names' : 'its entry point is'} ${hex(entry)}, which is not inside an executable segment of the kernel`);
  }
}

/** Every page of every segment at its virtual address, writable/executable as the union of the segments sharing the page says. */
function mapKernel(tables: LiminePageTables, image: LimineImage): void {
  const pages = new Map<bigint, { write: boolean; exec: boolean }>();
  const page = BigInt(PAGE_SIZE);
  for (const s of image.segments) {
    for (let v = s.vaddr & ~(page - 1n); v < s.vaddr + BigInt(s.memsz); v += page) {
      const f = pages.get(v) ?? { write: false, exec: false };
      pages.set(v, { write: f.write || (s.flags & PF_W) !== 0, exec: f.exec || (s.flags & PF_X) !== 0 });
    }
  }
  for (const [v, f] of pages) tables.map4K(v, imagePhysical(image, v, PAGE_SIZE)!, f);
}

/** Base revision 0's `.limine_reqs`: a NULL-terminated array of request pointers, read from the loaded image. */
function limineReqsList(file: string, elf: ElfFile, image: LimineImage, memory: GuestMemory): bigint[] | undefined {
  let section;
  try { section = elf.section('.limine_reqs'); } catch { return undefined; }
  if (!section || section.size === 0) return undefined;
  const at = imagePhysical(image, section.addr + image.slide, section.size);
  if (at === undefined) throw new BootError(file, `its .limine_reqs section at ${hex(section.addr)} is not inside the loaded image`);
  const list: bigint[] = [];
  for (let i = 0; i + 8 <= section.size; i += 8) {
    const p = memory.readU64(at + i);
    if (p === 0n) break;
    list.push(p);
  }
  return list;
}

/** Storage for the largest map first, then the map as it is once that storage is placed. */
function writeMemmap(memory: GuestMemory, alloc: BootAllocator, hhdm: bigint, input: (end: number) => MemmapInput): number {
  const most = limineMemmap(input(alloc.end() + PAGE_SIZE)).length + 1;
  const response = alloc.alloc(24, 'the memory map response', 8);
  const list = alloc.alloc(most * 8, 'the memory map', 8);
  const entries = alloc.alloc(most * 24, 'the memory map', 8);
  const map = limineMemmap(input(alloc.end()));
  map.forEach((e, i) => {
    const at = entries + i * 24;
    memory.writeU64(at, BigInt(e.base));
    memory.writeU64(at + 8, BigInt(e.length));
    memory.writeU64(at + 16, BigInt(e.type));
    memory.writeU64(list + i * 8, hhdm + BigInt(at));
  });
  memory.writeU64(response + 8, BigInt(map.length));
  memory.writeU64(response + 16, hhdm + BigInt(list));
  return response;
}

const loaderVersion = kvmdbgVersion;
