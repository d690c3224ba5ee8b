// INT 10h AH=4Fh (vmm/bios/vbe.ts) on fake registers and guest memory, over
// the real Bochs dispi: the calls GRUB's vbe driver makes to hand a
// multiboot2 kernel its 1024x768x32 framebuffer (4F00h, 4F01h for each
// listed mode, 4F02h with the LFB bit, 4F03h), and the requests that must
// fail with AX = 014Fh and write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestMemory } from '../../vmm/memory/guest-memory';
import { Bus } from '../../vmm/bus/bus';
import { BochsVbe, VBE_DISPI_IOPORT_INDEX, VBE_DISPI_PORT_COUNT } from '../../vmm/devices/bochs-vbe';
import { VideoBios } from '../../vmm/bios/video';
import { emptyRegs, type BiosRegs } from '../../vmm/bios/regs';
import { VBE_FAILED, VBE_MODES, VBE_OK } from '../../vmm/bios/vbe';

function machine(bar0 = 0xfd000000) {
  const memory = GuestMemory.allocate(2 * 2 ** 20);
  const vbe = new BochsVbe({ vram: new Uint8Array(16 * 2 ** 20) });
  const bus = new Bus('pio');
  bus.register(VBE_DISPI_IOPORT_INDEX, VBE_DISPI_PORT_COUNT, vbe);
  let pciAddress = 0;
  const ports = {
    read: (port: number, size: number) => (port === 0xcfc && pciAddress === 0x80001010 ? bar0 : port >= 0xcf8 ? 0xffffffff : bus.read(port, size as 1 | 2 | 4)),
    write: (port: number, size: number, value: number) => { if (port === 0xcf8) pciAddress = value >>> 0; else if (port < 0xcf8) bus.write(port, size as 1 | 2 | 4, value); },
  };
  const errors: string[] = [];
  const video = new VideoBios({ memory, ports, log: { guestError: (m) => errors.push(m) } });
  video.init();
  const int10 = (over: Partial<BiosRegs>) => { const r = emptyRegs(over); video.call(r); return r; };
  return { memory, vbe, int10, errors };
}

const farToLinear = (far: number) => (far >>> 16) * 16 + (far & 0xffff);

test('4F00h with "VBE2": VESA 3.0, 256 x 64 KiB, the mode list and OEM string inside the block, as far pointers', () => {
  const m = machine();
  const at = 0x2000 * 16 + 0x100;
  m.memory.write(at, new TextEncoder().encode('VBE2'));
  const r = m.int10({ eax: 0x4f00, es: 0x2000, esBase: 0x20000, edi: 0x100 });
  assert.equal(r.eax & 0xffff, VBE_OK);
  assert.equal(String.fromCharCode(...m.memory.read(at, 4)), 'VESA');
  assert.equal(m.memory.readU16(at + 4), 0x0300);
  assert.equal(m.memory.readU16(at + 0x12), 256);
  const list = farToLinear(m.memory.readU32(at + 0x0e));
  const modes: number[] = [];
  for (let p = list; m.memory.readU16(p) !== 0xffff && modes.length < 64; p += 2) modes.push(m.memory.readU16(p));
  assert.deepEqual(modes, [0x101, 0x111, 0x112, 0x114, 0x115, 0x117, 0x118, 0x11a, 0x11b]);
  const oem = farToLinear(m.memory.readU32(at + 0x06));
  assert.equal(String.fromCharCode(...m.memory.read(oem, 10)), 'kvmdbg VBE');
  assert.equal(farToLinear(m.memory.readU32(at + 0x16)), oem, 'VBE 2.0 vendor name');
  assert.ok(list >= at && list < at + 256 && oem >= at && oem < at + 256, 'both in the block');
});

test('4F01h 118h: 1024x768x32 direct colour, LFB at BAR 0 (where the guest moved it), pitch 4096, RGB 16/8/0', () => {
  const m = machine(0xe0000000);
  const at = 0x30000;
  const r = m.int10({ eax: 0x4f01, ecx: 0x118, es: 0x3000, esBase: at, edi: 0 });
  assert.equal(r.eax & 0xffff, VBE_OK);
  const u8 = (o: number) => m.memory.readU8(at + o), u16 = (o: number) => m.memory.readU16(at + o);
  assert.equal(u16(0) & 0x99, 0x99, 'supported, colour, graphics, linear framebuffer');
  assert.deepEqual([u16(0x10), u16(0x12), u16(0x14), u8(0x19), u8(0x1b)], [4096, 1024, 768, 32, 6]);
  assert.deepEqual([u8(0x1f), u8(0x20), u8(0x21), u8(0x22), u8(0x23), u8(0x24), u8(0x25), u8(0x26)], [8, 16, 8, 8, 8, 0, 8, 24]);
  assert.equal(m.memory.readU32(at + 0x28), 0xe0000000);
  assert.equal(u16(0x32), 4096, 'VBE 3.0 linear pitch');
  assert.deepEqual([u8(0x36), u8(0x37), u8(0x38), u8(0x39), u8(0x3a), u8(0x3b)], [8, 16, 8, 8, 8, 0]);
});

test('4F02h 4118h sets the dispi to 1024x768x32 with the LFB; 4F03h says so; 4F02h 3 is text mode again', () => {
  const m = machine();
  assert.equal(m.int10({ eax: 0x4f02, ebx: 0x4118 }).eax & 0xffff, VBE_OK);
  assert.deepEqual(m.vbe.state.mode, { width: 1024, height: 768, bpp: 32, stride: 4096, offset: 0, dac8: false });
  assert.equal(m.int10({ eax: 0x4f03 }).ebx & 0xffff, 0x4118);
  const scan = m.int10({ eax: 0x4f06, ebx: 0x01 });
  assert.deepEqual([scan.eax & 0xffff, scan.ebx & 0xffff, scan.ecx & 0xffff], [VBE_OK, 4096, 1024]);
  assert.equal(m.int10({ eax: 0x4f07, ebx: 0x00, ecx: 0, edx: 768 }).eax & 0xffff, VBE_OK);
  assert.equal(m.vbe.state.mode!.offset, 768 * 4096, 'display start moved a page down');
  assert.equal(m.int10({ eax: 0x4f02, ebx: 0x0003 }).eax & 0xffff, VBE_OK);
  assert.equal(m.vbe.state.mode, undefined, 'dispi off');
  assert.equal(m.int10({ eax: 0x4f03 }).ebx & 0xffff, 0x0003);
});

test('an unknown mode, a banked set, a buffer over the ROM or outside RAM, an unknown function: AX=014Fh, nothing written', () => {
  const m = machine();
  assert.equal(m.int10({ eax: 0x4f01, ecx: 0x100, esBase: 0x30000 }).eax & 0xffff, VBE_FAILED);
  assert.equal(m.memory.readU32(0x30000), 0, 'no mode information for a mode we lack');
  assert.equal(m.int10({ eax: 0x4f02, ebx: 0x0118 }).eax & 0xffff, VBE_FAILED, 'no banked windows');
  assert.equal(m.vbe.state.mode, undefined);
  const rom = 0xf0000;
  const before = m.memory.read(rom, 512).slice();
  assert.equal(m.int10({ eax: 0x4f00, es: 0xf000, esBase: rom, edi: 0 }).eax & 0xffff, VBE_FAILED);
  assert.equal(m.int10({ eax: 0x4f01, ecx: 0x118, es: 0xf000, esBase: rom, edi: 0 }).eax & 0xffff, VBE_FAILED);
  assert.deepEqual(m.memory.read(rom, 512), before, 'the ROM is unchanged');
  assert.equal(m.int10({ eax: 0x4f00, es: 0xffff, esBase: 0x1ffff0, edi: 0xff00 }).eax & 0xffff, VBE_FAILED, 'past the end of RAM');
  assert.equal(m.int10({ eax: 0x4f15, ebx: 0x01 }).eax & 0xffff, VBE_FAILED, 'no DDC/EDID');
  assert.equal(m.int10({ eax: 0x4f06, ebx: 0x01 }).eax & 0xffff, VBE_FAILED, 'no scan line in text mode');
  assert.equal(VBE_MODES.length, 9);
});
