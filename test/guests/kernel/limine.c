/* limine.elf: a Limine-protocol kernel linked at 0xffffffff80000000
 * (ld/limine.ld). Its requests sit in .requests between the start and end
 * markers, as the protocol shows them; it prints on COM1 what it got
 * (test/kvm/limine.test.ts compares the lines), releases every AP through
 * its goto_address (each says hello and draws its own box), paints the
 * framebuffer and finishes like the other test kernels (exit=N or power
 * off). The entry point comes from the entry point request (kmain); the
 * ELF entry is a trap that says so. */
#include <stdint.h>
#include "io.h"
#include "lib.h"
#include "limine-proto.h"

#ifndef BASE_REVISION
#define BASE_REVISION 6
#endif

#define REQ __attribute__((used, section(".requests"))) static volatile

__attribute__((used, section(".requests_start"))) static volatile uint64_t start_marker[4] = LMN_START_MARKER;
REQ uint64_t base_revision[3] = LMN_BASE_REVISION(BASE_REVISION);
void kmain(void);
REQ struct lmn_entry_point_request entry_req = { .id = LMN_ENTRY_POINT_ID, .entry = kmain };
REQ struct lmn_bootloader_info_request info_req = { .id = LMN_BOOTLOADER_INFO_ID };
REQ struct lmn_firmware_type_request firmware_req = { .id = LMN_FIRMWARE_TYPE_ID };
REQ struct lmn_stack_size_request stack_req = { .id = LMN_STACK_SIZE_ID, .stack_size = 128 * 1024 };
REQ struct lmn_hhdm_request hhdm_req = { .id = LMN_HHDM_ID };
REQ struct lmn_paging_mode_request paging_req = { .id = LMN_PAGING_MODE_ID, .revision = 1,
	.mode = LMN_PAGING_5LVL, .max_mode = LMN_PAGING_5LVL, .min_mode = LMN_PAGING_4LVL };
REQ struct lmn_memmap_request memmap_req = { .id = LMN_MEMMAP_ID };
REQ struct lmn_framebuffer_request fb_req = { .id = LMN_FRAMEBUFFER_ID };
REQ struct lmn_rsdp_request rsdp_req = { .id = LMN_RSDP_ID };
REQ struct lmn_smbios_request smbios_req = { .id = LMN_SMBIOS_ID };
REQ struct lmn_mp_request mp_req = { .id = LMN_MP_ID };
REQ struct lmn_module_request module_req = { .id = LMN_MODULE_ID };
REQ struct lmn_executable_file_request file_req = { .id = LMN_EXECUTABLE_FILE_ID };
REQ struct lmn_cmdline_request cmdline_req = { .id = LMN_EXECUTABLE_CMDLINE_ID };
REQ struct lmn_executable_address_request address_req = { .id = LMN_EXECUTABLE_ADDRESS_ID };
REQ struct lmn_date_at_boot_request date_req = { .id = LMN_DATE_AT_BOOT_ID };
__attribute__((used, section(".requests_end"))) static volatile uint64_t end_marker[2] = LMN_END_MARKER;

/* ---- the picture (test/kvm/limine.test.ts computes the same) ---- */
static volatile uint32_t *fb;
static uint64_t fb_pitch_px;

static void fill32(volatile uint32_t *d, uint32_t v, uint64_t n)
{
	__asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

/* The background: a colour a line (one rep stosl each: PVM runs ring 0 an instruction at a time). */
static uint32_t background(uint32_t y) { return 0x000040u | (y & 0xff) << 8 | (y >> 8) << 20; }

static const uint32_t box_colour[4] = { 0xff0000, 0x00ff00, 0x0000ff, 0xffffff };

/* CPU n's box: 150x100 at (100 + 200n, 300). */
static void draw_box(uint32_t cpu)
{
	if (!fb || cpu > 3)
		return;
	for (uint32_t y = 300; y < 400; y++)
		fill32(fb + y * fb_pitch_px + 100 + 200 * cpu, box_colour[cpu], 150);
}

/* ---- the APs ---- */
static volatile uint32_t console_lock;
static volatile uint32_t hellos;

static void lock(void) { while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE)) cpu_relax(); }
static void unlock(void) { __atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE); }

static uint64_t read_rsp(void) { uint64_t v; __asm__ volatile("mov %%rsp, %0" : "=r"(v)); return v; }

static void ap_main(struct lmn_mp_info *info)
{
	uint64_t rsp = read_rsp();
	uint64_t hhdm = hhdm_req.response->offset;
	lock();
	kprintf("cpu %u: hello (lapic %u, extra_argument 0x%lx, stack %s)\n", info->processor_id, info->lapic_id,
		(unsigned long)info->extra_argument, rsp > hhdm && rsp < 0xffffffff80000000ull ? "in the HHDM" : "elsewhere");
	unlock();
	draw_box(info->processor_id);
	__atomic_add_fetch(&hellos, 1, __ATOMIC_RELEASE);
	halt_forever();
}

/* ---- the BSP ---- */
static const char *memmap_check(const struct lmn_memmap_response *m, uint64_t *usable)
{
	*usable = 0;
	for (uint64_t i = 0; i < m->entry_count; i++) {
		const struct lmn_memmap_entry *e = m->entries[i];
		if (i > 0 && e->base < m->entries[i - 1]->base)
			return "not sorted";
		if ((e->type == LMN_MEMMAP_USABLE || e->type == LMN_MEMMAP_BOOTLOADER_RECLAIMABLE) && ((e->base | e->length) & 0xfff))
			return "usable entry not page-aligned";
		if (e->type == LMN_MEMMAP_USABLE)
			*usable += e->length;
	}
	return "sorted, usable page-aligned";
}

static uint64_t read_cr0(void) { uint64_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }

static uint64_t rdmsr(uint32_t msr) { uint32_t lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return (uint64_t)hi << 32 | lo; }
static void wrmsr(uint32_t msr, uint64_t v) { __asm__ volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))); }

/* The local APIC as the loader left it, read through x2APIC MSRs (its MMIO page is not in a
 * base revision 6 HHDM); switching to x2APIC mode keeps the registers. */
static void print_lapic(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 21))) {
		kputs("lapic: no x2APIC to read it with\n");
		return;
	}
	wrmsr(0x1b, rdmsr(0x1b) | 1u << 10);
	kprintf("lapic: svr=0x%lx tpr=0x%lx timer=0x%lx lint0=0x%lx lint1=0x%lx error=0x%lx\n", (unsigned long)rdmsr(0x80f),
		(unsigned long)rdmsr(0x808), (unsigned long)rdmsr(0x832), (unsigned long)rdmsr(0x835), (unsigned long)rdmsr(0x836),
		(unsigned long)rdmsr(0x837));
}

void kmain(void)
{
	serial_init(1);
	uint64_t rsp = read_rsp();
	int supported = base_revision[2] == 0;
	kprintf("kvmdbg limine kernel (base revision %d %s, loaded %lu)\n", BASE_REVISION,
		supported ? "supported" : "NOT supported",
		base_revision[1] == LMN_BASE_REVISION_MAGIC1 ? 0ul : (unsigned long)base_revision[1]);
	if (!info_req.response || !hhdm_req.response) {
		kputs("no bootloader info or HHDM response\n");
		machine_exit(3);
	}
	uint64_t hhdm = hhdm_req.response->offset;
	kprintf("loader: %s %s\n", info_req.response->name, info_req.response->version);
	kprintf("firmware: %s\n", firmware_req.response && firmware_req.response->firmware_type == LMN_FIRMWARE_X86BIOS ? "x86 BIOS" : "?");
	kprintf("hhdm: 0x%lx\n", (unsigned long)hhdm);
	kprintf("paging: %s\n", !paging_req.response ? "no response" : paging_req.response->mode == LMN_PAGING_5LVL ? "5-level" : "4-level");
	kprintf("cpu: cr0=0x%lx cr4=0x%lx\n", (unsigned long)read_cr0(), (unsigned long)read_cr4());
	print_lapic();
	kprintf("pat: 0x%016lx\n", (unsigned long)rdmsr(0x277));
	kprintf("stack: %s, %s, return address %p\n", stack_req.response ? "size answered" : "size not answered",
		rsp > hhdm && rsp < 0xffffffff80000000ull ? "in the HHDM" : "elsewhere", __builtin_return_address(0));
	if (address_req.response)
		kprintf("executable: physical 0x%lx virtual 0x%lx\n", (unsigned long)address_req.response->physical_base,
			(unsigned long)address_req.response->virtual_base);
	if (file_req.response) {
		const struct lmn_file *f = file_req.response->executable_file;
		const uint8_t *p = f->address;
		kprintf("executable file: %s, string '%s'\n", p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F' ? "an ELF" : "not an ELF", f->string);
	}
	kprintf("cmdline: %s\n", cmdline_req.response ? cmdline_req.response->cmdline : "(no response)");
	if (memmap_req.response) {
		uint64_t usable;
		const char *how = memmap_check(memmap_req.response, &usable);
		kprintf("memmap: %lu entries, %s\n", (unsigned long)memmap_req.response->entry_count, how);
	}
	if (rsdp_req.response) {
		const char *r = rsdp_req.response->address;
		/* Base revision 3 alone hands the RSDP over as a physical address, in memory its HHDM does not map. */
		if ((uint64_t)r < hhdm)
			kprintf("rsdp: physical 0x%lx\n", (unsigned long)r);
		else
			kprintf("rsdp: '%c%c%c%c%c%c%c%c' revision %u\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], (unsigned)(uint8_t)r[15]);
	}
	kprintf("smbios: %s\n", smbios_req.response ? "answered" : "none");
	if (date_req.response)
		kprintf("boot time: %s\n", date_req.response->timestamp > 1577836800 ? "after 2020" : "before 2020");
	if (module_req.response) {
		for (uint64_t i = 0; i < module_req.response->module_count; i++) {
			const struct lmn_file *m = module_req.response->modules[i];
			const char *text = m->address;
			char line[80];
			uint64_t n = 0;
			while (n < m->size && n + 1 < sizeof(line) && text[n] != '\n') {
				line[n] = text[n];
				n++;
			}
			line[n] = 0;
			kprintf("module %lu: %lu bytes at a %s address, string '%s': %s\n", (unsigned long)i, (unsigned long)m->size,
				((uint64_t)m->address & 0xfff) ? "unaligned" : "page-aligned", m->string, line);
		}
	} else {
		kputs("modules: none\n");
	}
	if (fb_req.response && fb_req.response->framebuffer_count > 0) {
		struct lmn_framebuffer *f = fb_req.response->framebuffers[0];
		kprintf("framebuffer: %lux%lu, %u bpp, pitch %lu, rgb %u:%u %u:%u %u:%u, %lu mode\n", (unsigned long)f->width,
			(unsigned long)f->height, f->bpp, (unsigned long)f->pitch, f->red_mask_size, f->red_mask_shift,
			f->green_mask_size, f->green_mask_shift, f->blue_mask_size, f->blue_mask_shift, (unsigned long)f->mode_count);
		fb = f->address;
		fb_pitch_px = f->pitch / 4;
		for (uint32_t y = 0; y < f->height; y++)
			fill32(fb + y * fb_pitch_px, background(y), f->width);
		draw_box(0);
	}
	if (mp_req.response) {
		struct lmn_mp_response *mp = mp_req.response;
		kprintf("cpus: %lu, bsp lapic %u\n", (unsigned long)mp->cpu_count, mp->bsp_lapic_id);
		for (uint64_t i = 0; i < mp->cpu_count; i++) {
			struct lmn_mp_info *c = mp->cpus[i];
			if (c->lapic_id == mp->bsp_lapic_id)
				continue;
			c->extra_argument = 0x1000 + i;
			__atomic_store_n(&c->goto_address, ap_main, __ATOMIC_SEQ_CST);
		}
		for (uint64_t spins = 0; __atomic_load_n(&hellos, __ATOMIC_ACQUIRE) + 1 < mp->cpu_count && spins < 20000000; spins++)
			cpu_relax();
		lock();
		kprintf("hellos: %u of %lu\n", hellos, (unsigned long)mp->cpu_count - 1);
		unlock();
	}
	kputs("limine done\n");
	machine_finish(cmdline_req.response ? cmdline_req.response->cmdline : "");
}

/* The ELF entry point: reached only if the entry point request was ignored. */
void _start(void)
{
	serial_init(1);
	kputs("entered at the ELF entry, not the entry point request\n");
	machine_exit(4);
}
