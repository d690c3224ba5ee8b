/**
 * Linux bzImage via the x86 boot protocol (2.10+), entered at the 64-bit
 * entry point ("64-bit BOOT PROTOCOL" in Documentation/arch/x86/boot.rst):
 *   - the protected-mode kernel (after the setup sectors) at pref_address
 *     when the kernel is relocatable and it fits there, else at 1 MiB;
 *   - the zero page (boot_params) with the image's setup header, the e820
 *     map, the command line, the initrd and the ACPI RSDP;
 *   - the initrd page-aligned as high as initrd_addr_max and RAM allow;
 *   - ACPI tables in the BIOS area (vmm/acpi/);
 *   - long mode, the first max(4 GiB, RAM) identity-mapped, CS = __BOOT_CS
 *     (0x10) 64-bit code, DS/ES/SS = __BOOT_DS (0x18), interrupts off,
 *     RSI = the zero page, RIP = load address + 0x200.
 * The real-mode setup code is never run, so it is not loaded.
 */
import { BootError, BootInfo } from './boot-state';
import { code64, encodeDescriptor, longModeState, SEL_DATA } from './cpu';
import { hex, memoryOption, size } from './format';
import { checkImageRange, GDT_ADDR, putCmdline } from './layout';
import { LinuxHeader, linuxProtocolText, parseLinuxHeader } from './linux-header';
import { LoadKernelOptions } from './options';
import { PageTables } from './page-tables';
import { prepareBoot } from './prepare';
import { writeZeroPage } from './zero-page';
import { writeAcpiTables } from '../acpi/tables';
import { FOUR_GIB, GuestMemory, PAGE_SIZE } from '../memory/guest-memory';
import { HIGH_MEMORY_START, highMemoryEntry, isUsableRam, MemoryMapEntry } from '../memory/memory-map';

/** __BOOT_CS and __BOOT_DS of the 64-bit boot protocol. */
export const BOOT_CS = 0x10;
export const BOOT_DS = SEL_DATA;
/** The 64-bit entry is 0x200 past the 32-bit one (startup_64 in arch/x86/boot/compressed/head_64.S). */
export const ENTRY_64_OFFSET = 0x200;

const GIB = 2 ** 30;

export function loadLinux(opts: LoadKernelOptions): BootInfo {
  const { kernelPath, kernel, memory } = opts;
  const header = parseLinuxHeader(kernelPath, kernel);
  if (opts.modules.length > 1) {
    throw new BootError(opts.modules[1].path, 'is a second boot module; a Linux kernel takes one initrd (concatenate cpio archives into one file)');
  }
  const cmdlineBytes = Buffer.byteLength(opts.cmdline, 'utf8');
  if (cmdlineBytes > header.cmdlineSize) {
    throw new BootError(kernelPath, `command line is ${cmdlineBytes} bytes; this kernel accepts at most ${header.cmdlineSize} (cmdline_size)`);
  }
  const ctx = prepareBoot(kernelPath, memory);
  const load = loadAddress(kernelPath, memory, ctx.map, header);
  memory.write(load, kernel.subarray(header.pmOffset, header.pmOffset + header.pmSize));
  const kernelEnd = load + header.initSize;
  const initrd = opts.modules[0] ? placeInitrd(memory, ctx.map, header, kernelEnd, opts.modules[0]) : undefined;
  const cmdlineAddr = putCmdline(ctx.strings, kernelPath, opts.cmdline);
  const rsdpAddr = writeAcpiTables(memory, opts.cpus ?? 1, opts.virtio ?? []);
  const zeroPage = writeZeroPage(memory, { kernelPath, kernel, header, loadAddr: load, cmdlineAddr, initrd, map: ctx.map, rsdpAddr });
  // Our GDT has 32-bit code at 0x10; this protocol wants 64-bit code there (nothing else runs before Linux).
  memory.writeU64(GDT_ADDR + BOOT_CS, encodeDescriptor({ ...code64(), selector: BOOT_CS }));
  const tables = new PageTables(memory, kernelPath);
  const identityEnd = Math.ceil(Math.max(FOUR_GIB, memory.topOfRam) / GIB) * GIB;
  tables.mapRange(0n, 0, identityEnd, `the identity map of the first ${size(identityEnd)}`);
  const entry = load + ENTRY_64_OFFSET;
  const cpu = longModeState(BigInt(entry), tables.pml4, { rsi: BigInt(zeroPage) });
  cpu.sregs.cs = { ...code64(), selector: BOOT_CS };
  return {
    protocol: 'linux',
    cpu,
    imageStart: load,
    imageEnd: kernelEnd,
    entry,
    description: `Linux bzImage, boot protocol ${linuxProtocolText(header.version)}, 64-bit entry ${hex(entry)}`
      + (initrd ? `, initrd ${size(initrd.size)} at ${hex(initrd.addr)}` : ''),
  };
}

/** pref_address for a relocatable kernel when its whole init_size fits there, else 1 MiB. */
function loadAddress(file: string, memory: GuestMemory, map: readonly MemoryMapEntry[], h: LinuxHeader): number {
  const pref = h.prefAddress;
  if (h.relocatable && pref >= BigInt(HIGH_MEMORY_START) && pref < BigInt(FOUR_GIB)
    && pref % BigInt(h.kernelAlignment) === 0n && isUsableRam(map, Number(pref), h.initSize)) {
    return Number(pref);
  }
  const load = HIGH_MEMORY_START;
  if (!isUsableRam(map, load, h.initSize)) {
    throw new BootError(file, `needs ${size(h.initSize)} of RAM from ${hex(load)} to decompress and boot (init_size), more than the ${size(memory.ramBytes)} of guest RAM allow; use --memory ${memoryOption((load + h.initSize) * 2)}`);
  }
  checkImageRange(file, memory, map, 'the kernel', load, h.initSize);
  return load;
}

/** The initrd at the highest page-aligned address under initrd_addr_max and the end of low RAM, above the kernel. */
function placeInitrd(memory: GuestMemory, map: readonly MemoryMapEntry[], h: LinuxHeader, kernelEnd: number,
  m: { path: string; data: Uint8Array }): { addr: number; size: number } {
  const ram = highMemoryEntry(map);
  const ramEnd = ram ? ram.addr + ram.size : 0;
  const limit = Math.min(h.initrdAddrMax + 1, ramEnd);
  const floor = Math.ceil(kernelEnd / PAGE_SIZE) * PAGE_SIZE;
  const addr = Math.floor((limit - m.data.length) / PAGE_SIZE) * PAGE_SIZE;
  if (m.data.length === 0) throw new BootError(m.path, 'is empty; an initrd must hold a cpio archive');
  if (addr < floor || !isUsableRam(map, addr, m.data.length)) {
    const where = `above the kernel, which needs up to ${hex(kernelEnd)}`;
    if (limit < ramEnd) throw new BootError(m.path, `the initrd (${size(m.data.length)}) does not fit below the kernel's initrd_addr_max (${hex(h.initrdAddrMax)}) ${where}`);
    throw new BootError(m.path, `the initrd (${size(m.data.length)}) does not fit in ${size(memory.ramBytes)} of guest RAM ${where}; use --memory ${memoryOption((kernelEnd + m.data.length) * 1.25)}`);
  }
  memory.write(addr, m.data);
  return { addr, size: m.data.length };
}

export { linuxProtocolText };
