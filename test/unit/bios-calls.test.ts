// The BIOS on the vCPU side (vmm/bios/bios-calls.ts, rom.ts) and the
// boot-sector loader (vmm/boot/bios-boot.ts), on a fake vCPU: a stub's OUT
// is served wherever the host leaves RIP (on it or past it), CF reaches the
// caller through its INT frame, a read must wait in the ROM; the real-mode
// INT n / IRET a host cannot run is done as the CPU does; the ROM's code
// disassembles to what POST and the stubs must do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Bios } from '../../vmm/bios/bios';
import { BiosCalls, type BiosVcpu } from '../../vmm/bios/bios-calls';
import { diskGeometry } from '../../vmm/bios/geometry';
import { buildRom } from '../../vmm/bios/rom';
import { ROM_ADDR, ROM_DEFAULT, ROM_EOI_MASTER, ROM_IRQ0_TAIL, ROM_KEY_WAIT, ROM_OFFSET, ROM_POST, stubOffset, stubResume } from '../../vmm/bios/layout';
import { loadKernel } from '../../vmm/boot/detect';
import { realModeState } from '../../vmm/boot/bios-boot';
import type { Regs, Sregs } from '../../native/types';
import type { Segment } from '../../vmm/boot/boot-state';
import { decodeFrom } from '../../debug-adapter/disassembly';
import { expectBootError } from './helpers/boot-check';
import { checkBootDiskFits, HostCannotRunError, isBiosBootDisk } from '../../vmm/host/guest-fit';
import type { HostReport } from '../../vmm/host/probe/capabilities';

const MiB = 2 ** 20;

const seg = (selector: number, base = selector * 16): Segment => ({
  base: BigInt(base), limit: 0xffff, selector, type: 3, present: true, dpl: 0, db: false, s: true, l: false, g: false, avl: false, unusable: false,
});

class FakeVcpu implements BiosVcpu {
  regs: Regs = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n, r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0n, rflags: 2n };
  sregs = { cs: seg(0xf000), ds: seg(0), es: seg(0), fs: seg(0), gs: seg(0), ss: seg(0), cr0: 0x10n } as unknown as Sregs;
  getRegs(): Regs { return { ...this.regs }; }
  setRegs(r: Partial<Regs>): void { this.regs = { ...this.regs, ...r }; }
  getSregs(): Sregs { return { ...this.sregs }; }
  setSregs(s: Partial<Sregs>): void { this.sregs = { ...this.sregs, ...s }; }
}

function setup() {
  const memory = GuestMemory.allocate(16 * MiB);
  const { rom, ivt } = buildRom({ drive: 0x80, sectorsPerTrack: 63 });
  memory.write(0, ivt);
  memory.write(ROM_ADDR, rom);
  memory.writeU16(0x413, 639);
  const errors: string[] = [];
  const log = { guestError: (m: string) => errors.push(m) };
  const disk = { path: 'd', readOnly: true, bytes: 64 * 1024, read(into: Uint8Array) { into.fill(0xab); }, write() {}, flush() {}, close() {} };
  const bios = new Bios({ memory, ports: { read: () => 0, write: () => {} }, log }, disk, diskGeometry(64 * 1024));
  bios.start();
  const vcpu = new FakeVcpu();
  return { memory, vcpu, errors, calls: new BiosCalls(vcpu, memory, bios, log) };
}

/** The frame an INT 13h from 0000:7C20 leaves at SS:SP = 0000:6FFA (IP, CS, FLAGS with IF). */
function intFrame(memory: GuestMemory, vcpu: FakeVcpu, flags = 0x0202): void {
  memory.writeU16(0x6ffa, 0x7c22);
  memory.writeU16(0x6ffc, 0x0000);
  memory.writeU16(0x6ffe, flags);
  vcpu.regs.rsp = 0x6ffan;
}

for (const [host, onOut] of [['VMX/SVM (RIP on the OUT)', 0], ['PVM (RIP past the OUT)', 2]] as const) {
  test(`a stub's OUT is served with ${host}: a read past the disk's end sets CF in the caller's FLAGS, AH = 04h, and RIP moves to the stub's iret`, () => {
    const { memory, vcpu, calls } = setup();
    intFrame(memory, vcpu);
    memory.write(0x600, Uint8Array.from([0x10, 0, 1, 0, 0, 0, 0, 0x20, 0xd0, 0x07, 0, 0, 0, 0, 0, 0]));   // LBA 2000, past the 1008 of one cylinder
    vcpu.regs = { ...vcpu.regs, rip: BigInt(stubOffset(0x13) + onOut), rax: 0x1234_5678_0000_4200n, rdx: 0x80n, rsi: 0x600n };
    assert.equal(calls.portCall(), true);
    assert.equal(vcpu.regs.rax, 0x1234_5678_0000_0400n, 'AH = 04h, the upper half of RAX kept');
    assert.equal(vcpu.regs.rip, BigInt(stubResume(0x13)));
    assert.equal(memory.readU16(0x6ffe), 0x0203, 'CF set in the saved FLAGS, IF kept');
    assert.equal(memory.readU8(0x20000), 0, 'nothing read');
  });
}

test('a successful call clears the caller\'s CF; an empty key ring sends the stub to the ROM\'s wait loop', () => {
  const { memory, vcpu, calls } = setup();
  intFrame(memory, vcpu, 0x0203);
  vcpu.regs = { ...vcpu.regs, rip: BigInt(stubOffset(0x13)), rax: 0x0201n, rcx: 0x0001n, rdx: 0x0080n, rbx: 0x1000n };
  assert.equal(calls.portCall(), true);
  assert.deepEqual([memory.readU16(0x6ffe), Number(vcpu.regs.rax), memory.readU8(0x1000)], [0x0202, 0x0001, 0xab]);
  vcpu.regs = { ...vcpu.regs, rip: BigInt(stubOffset(0x16)), rax: 0n };
  assert.equal(calls.portCall(), true);
  assert.equal(vcpu.regs.rip, BigInt(ROM_KEY_WAIT));
});

test('#UD or #DE in real mode with no handler of the guest\'s own ends the VM with a sentence naming the instruction\'s address (iret would run it again for ever)', () => {
  const memory = GuestMemory.allocate(16 * MiB);
  const { rom, ivt } = buildRom({ drive: 0x80, sectorsPerTrack: 63 });
  memory.write(0, ivt);
  memory.write(ROM_ADDR, rom);
  const ended: string[] = [];
  const log = { guestError: () => {} };
  const disk = { path: 'd', readOnly: true, bytes: 512, read() {}, write() {}, flush() {}, close() {} };
  const vcpu = new FakeVcpu();
  const calls = new BiosCalls(vcpu, memory, new Bios({ memory, ports: { read: () => 0, write: () => {} }, log }, disk, diskGeometry(512)), log, (m) => ended.push(m));
  memory.writeU16(0x6ffa, 0x7c10); memory.writeU16(0x6ffc, 0x07c0); memory.writeU16(0x6ffe, 0x0202);
  vcpu.regs = { ...vcpu.regs, rip: BigInt(stubOffset(0x06) + 2), rsp: 0x6ffan };
  assert.equal(calls.portCall(), true);
  assert.deepEqual(ended, ['the guest raised #UD (invalid opcode) at 07C0:7C10 in real mode, and vector 06h is still kvmdbg\'s BIOS default (the guest installed no handler)']);
  vcpu.regs.rip = BigInt(stubOffset(0x00));
  calls.portCall();
  assert.match(ended[1], /^the guest raised #DE \(divide error\) at 07C0:7C10/);
});

test('INT 19h (and the reset vector\'s jump to its stub) reads the boot sector again and runs POST', () => {
  const { memory, vcpu, calls } = setup();
  memory.fill(0x7c00, 512, 0x11);
  vcpu.regs = { ...vcpu.regs, rip: BigInt(stubOffset(0x19)), rsp: 0x1234n, rax: 0x5555n };
  assert.equal(calls.portCall(), true);
  assert.deepEqual([vcpu.regs.rip, memory.readU8(0x7c00), memory.readU8(0x7dff)], [BigInt(ROM_POST), 0xab, 0xab]);
  assert.equal(memory.readU16(0xb8000), 0x0720, 'the screen as at power-on');
});

test('an OUT to the BIOS port that no stub made is not a BIOS call', () => {
  const { vcpu, calls } = setup();
  vcpu.regs.rip = BigInt(stubOffset(0x13) + 4);
  assert.equal(calls.portCall(), false, 'inside a stub, not at its OUT');
  vcpu.regs.rip = 0x7c10n;
  vcpu.sregs.cs = seg(0);
  assert.equal(calls.portCall(), false, 'the guest\'s own code');
  vcpu.sregs.cs = seg(0xf000);
  vcpu.regs.rip = BigInt(stubOffset(0x13));
  vcpu.sregs.cr0 = 0x11n;
  assert.equal(calls.portCall(), false, 'protected mode');
});

test('a stack outside RAM: the service still runs, the missing FLAGS are one guest error', () => {
  const { vcpu, calls, errors } = setup();
  vcpu.sregs.ss = seg(0xffff, 0x2000_0000);
  vcpu.regs = { ...vcpu.regs, rip: BigInt(stubOffset(0x12)), rsp: 0x100n };
  assert.equal(calls.portCall(), true);
  assert.equal(vcpu.regs.rax, 639n);
  assert.match(errors.join('\n'), /stack at SS:SP is not guest RAM/);
});

test('emulate(): INT n through a guest-hooked IVT entry pushes FLAGS, CS, IP and enters it with IF clear; IRET returns; INT3 too; other instructions and protected mode are not ours', () => {
  const { memory, vcpu, calls } = setup();
  memory.write(0x7c00, Uint8Array.from([0xcd, 0x10, 0xcc]));
  memory.writeU16(0x40, 0x0010); memory.writeU16(0x42, 0x1234);     // the guest hooked INT 10h
  vcpu.sregs.cs = seg(0);
  vcpu.regs = { ...vcpu.regs, rip: 0x7c00n, rsp: 0x7000n, rflags: 0x0203n };
  assert.equal(calls.emulate(), true);
  assert.deepEqual([vcpu.sregs.cs.selector, Number(vcpu.sregs.cs.base), vcpu.regs.rip, vcpu.regs.rsp, vcpu.regs.rflags], [0x1234, 0x12340, 0x10n, 0x6ffan, 0x0003n]);
  assert.deepEqual([memory.readU16(0x6ffa), memory.readU16(0x6ffc), memory.readU16(0x6ffe)], [0x7c02, 0, 0x0203]);
  memory.writeU8(0x12350, 0xcf);
  assert.equal(calls.emulate(), true, 'the handler\'s iret');
  assert.deepEqual([vcpu.sregs.cs.selector, vcpu.regs.rip, vcpu.regs.rsp, vcpu.regs.rflags], [0, 0x7c02n, 0x7000n, 0x0203n]);
  assert.equal(calls.emulate(), true, 'int3 at 7C02 through vector 3 (ours: the default handler)');
  assert.deepEqual([vcpu.sregs.cs.selector, vcpu.regs.rip, memory.readU16(0x6ffa)], [0xf000, BigInt(ROM_DEFAULT), 0x7c03]);
  vcpu.sregs.cs = seg(0); vcpu.regs.rip = 0x7c10n;
  assert.equal(calls.emulate(), false, 'not an INT or IRET');
  vcpu.regs.rip = 0x7c00n; vcpu.sregs.cr0 = 0x11n;
  assert.equal(calls.emulate(), false, 'protected mode');
});

test('the ROM: POST programs the PICs and the PIT and jumps to 0000:7C00 with DL = the drive; stubs are OUT 9Ah then iret or the IRQ tail; the IVT points at them', () => {
  const { rom, ivt } = buildRom({ drive: 0x80, sectorsPerTrack: 63 });
  const read = (address: bigint, length: number) => {
    const off = Number(address) - ROM_OFFSET;
    const data = rom.slice(off, off + length);
    return { data, readable: new Uint8Array(data.length).fill(1) };
  };
  const text = (at: number, n: number) => decodeFrom(read, 16, BigInt(at), n).map((i) => i.text);
  const post = text(ROM_POST, 39);
  assert.deepEqual(post, [
    'cli',
    'mov $0x11,%al', 'out %al,$0x20', 'mov $8,%al', 'out %al,$0x21', 'mov $4,%al', 'out %al,$0x21', 'mov $1,%al', 'out %al,$0x21',
    'mov $0x11,%al', 'out %al,$0xA0', 'mov $0x70,%al', 'out %al,$0xA1', 'mov $2,%al', 'out %al,$0xA1', 'mov $1,%al', 'out %al,$0xA1',
    'mov $0xF8,%al', 'out %al,$0x21', 'mov $0xFF,%al', 'out %al,$0xA1',
    'mov $0x36,%al', 'out %al,$0x43', 'xor %al,%al', 'out %al,$0x40', 'out %al,$0x40',
    'xor %ax,%ax', 'mov %ax,%ds', 'mov %ax,%es', 'mov %ax,%ss', 'mov $0x7C00,%sp', 'mov $0x80,%dx',
    'xor %bx,%bx', 'xor %cx,%cx', 'xor %si,%si', 'xor %di,%di', 'xor %bp,%bp', 'sti', 'ljmp $0,$0x7C00',
  ]);
  const hex = (v: number) => '0x' + v.toString(16).toUpperCase();
  assert.deepEqual(text(stubOffset(0x13), 2), ['out %al,$0x9A', 'iret']);
  assert.deepEqual(text(stubOffset(0x09), 2), ['out %al,$0x9A', `jmp ${hex(ROM_EOI_MASTER)}`]);
  assert.deepEqual(text(stubOffset(0x08), 2), ['out %al,$0x9A', `jmp ${hex(ROM_IRQ0_TAIL)}`]);
  assert.deepEqual(text(ROM_IRQ0_TAIL, 2), ['int $0x1C', `jmp ${hex(ROM_EOI_MASTER)}`]);
  assert.deepEqual(text(ROM_EOI_MASTER, 5), ['push %ax', 'mov $0x20,%al', 'out %al,$0x20', 'pop %ax', 'iret']);
  assert.deepEqual(text(ROM_KEY_WAIT, 4), ['sti', 'hlt', 'cli', `jmp ${hex(stubOffset(0x16))}`]);
  assert.deepEqual(text(ROM_DEFAULT, 5), ['push %bp', 'mov %sp,%bp', 'orw $1,6(%bp)', 'pop %bp', 'iret']);
  assert.deepEqual(text(0xfff0, 1), [`ljmp $0xF000,$${hex(stubOffset(0x19))}`], 'the reset vector boots again');
  assert.equal(rom[0xfffe - ROM_OFFSET], 0xfc, 'the AT model byte');
  const vector = (v: number) => [ivt[v * 4] | (ivt[v * 4 + 1] << 8), ivt[v * 4 + 2] | (ivt[v * 4 + 3] << 8)];
  assert.deepEqual(vector(0x13), [stubOffset(0x13), 0xf000]);
  assert.deepEqual(vector(0x0c), [ROM_EOI_MASTER, 0xf000], 'IRQ4: end of interrupt only');
  assert.deepEqual(vector(0x21), [ROM_DEFAULT, 0xf000]);
  assert.deepEqual(vector(0x06), [stubOffset(0x06), 0xf000], '#UD: reported by the VMM');
});

test('detection: a raw image whose first sector ends in 55h AAh boots through the BIOS (sector at 0x7C00, real mode at F000:E000); a bzImage (which has the signature too) stays Linux', () => {
  const memory = GuestMemory.allocate(16 * MiB);
  const image = new Uint8Array(4096);
  image[0] = 0xfa; image[510] = 0x55; image[511] = 0xaa; image[512] = 0x77;
  const info = loadKernel({ kernelPath: 'disk.img', kernel: image, memory, cmdline: '', modules: [] });
  assert.equal(info.protocol, 'bios');
  assert.equal(info.description, 'BIOS boot sector at 0x7c00 from hard disk 80h, CHS 1/16/63, image 4 KiB');
  assert.deepEqual(info.bios, { disk: 'disk.img', drive: 0x80 });
  assert.deepEqual([memory.readU8(0x7c00), memory.readU16(0x7dfe), memory.readU8(0x7e00)], [0xfa, 0xaa55, 0], 'the first sector only');
  assert.deepEqual([info.cpu.sregs.cs.selector, info.cpu.regs.rip, info.cpu.sregs.cr0], [0xf000, BigInt(ROM_POST), 0x10n]);
  assert.deepEqual(realModeState().sregs.idt, { base: 0n, limit: 0x3ff });
  assert.equal(memory.readU16(0x413), 639);
  const bz = image.slice();
  bz.set([0x48, 0x64, 0x72, 0x53], 0x202);
  expectBootError(() => loadKernel({ kernelPath: 'bz', kernel: bz, memory: GuestMemory.allocate(16 * MiB), cmdline: '', modules: [] }), 'bz', /bzImage|boot protocol/);
  image[511] = 0;
  expectBootError(() => loadKernel({ kernelPath: 'disk.img', kernel: image, memory, cmdline: '', modules: [], protocol: 'bios' }), 'disk.img', 'does not end in the boot signature 55h AAh');
  image[511] = 0xaa;
  expectBootError(() => loadKernel({ kernelPath: 'disk.img', kernel: image, memory, cmdline: '', modules: [{ path: 'initrd', data: new Uint8Array(1) }] }), 'initrd', 'takes none');
});

test('a host whose KVM cannot run real mode: a boot disk gets one sentence naming it, the reason and where it runs; an ELF or a bzImage is not a boot disk', () => {
  const disk = new Uint8Array(1024);
  disk[510] = 0x55; disk[511] = 0xaa;
  assert.equal(isBiosBootDisk(disk), true);
  const elf = disk.slice(); elf.set([0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(isBiosBootDisk(elf), false);
  const report = (works: boolean): HostReport => ({ flavour: 'pvm', probeMs: 1, capabilities: [{ id: 'real-mode', works, detail: 'a real-mode guest gave internal error, suberror 1 instead of its first port write' }] });
  assert.doesNotThrow(() => checkBootDiskFits('/x/disk.img', report(true)));
  assert.throws(() => checkBootDiskFits('/x/disk.img', report(false)), (e: Error) => e instanceof HostCannotRunError
    && e.message === 'disk.img is a BIOS boot disk, which starts in real mode, and this host\'s KVM cannot run real-mode code (a real-mode guest gave internal error, suberror 1 instead of its first port write): '
      + 'run it on hardware or nested KVM, or inside the KVM sandbox (test/sandbox/run; kvmdbg run uses it for you), and see kvmdbg doctor (real-mode guest: no)');
});
