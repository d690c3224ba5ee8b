/* See entry.S. Loads the ELF64 module, builds an hvm_start_info (memory map
 * from the multiboot map, cmdline = our cmdline without its first word,
 * which QEMU sets to the kernel path), page tables, and jumps. */
#include "bootproto.h"
#include "io.h"
#include "lib.h"

void enter_long_mode(uint32_t entry, uint32_t start_info, uint32_t pml4, uint32_t stack) __attribute__((noreturn));

struct multiboot_module {
	uint32_t mod_start, mod_end, string, reserved;
};

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

#define MAX_MAP 32
static struct hvm_start_info start_info;
static struct hvm_memmap_table_entry memmap[MAX_MAP];
static char cmdline[256];
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
static uint8_t guest_stack[16384] __attribute__((aligned(16)));

static void __attribute__((noreturn)) fail(const char *why)
{
	kprintf("elf64-loader: %s\n", why);
	machine_exit(0x7f);
}

void __attribute__((noreturn)) loader_main(uint32_t magic, const struct multiboot_info *mbi)
{
	serial_init(0);
	if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
		fail("not booted by a multiboot loader");
	if (!(mbi->flags & (1u << 3)) || mbi->mods_count < 1)
		fail("no module: pass the ELF64 kernel with -initrd");

	/* cmdline without its first word */
	const char *c = (mbi->flags & MULTIBOOT_INFO_CMDLINE) ? (const char *)(uintptr_t)mbi->cmdline : "";
	while (*c && *c != ' ')
		c++;
	while (*c == ' ')
		c++;
	size_t n = strlen(c);
	if (n >= sizeof(cmdline))
		n = sizeof(cmdline) - 1;
	memcpy(cmdline, c, n);

	/* memory map */
	uint32_t entries = 0;
	if (mbi->flags & MULTIBOOT_INFO_MEM_MAP) {
		uintptr_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
		while (p + sizeof(struct multiboot_mmap_entry) <= end && entries < MAX_MAP) {
			const struct multiboot_mmap_entry *e = (const void *)p;
			memmap[entries].addr = e->addr;
			memmap[entries].size = e->len;
			memmap[entries].type = e->type;
			entries++;
			p += e->size + sizeof(e->size);
		}
	}
	start_info.magic = XEN_HVM_START_MAGIC_VALUE;
	start_info.version = 1;
	start_info.cmdline_paddr = (uintptr_t)cmdline;
	start_info.memmap_paddr = (uintptr_t)memmap;
	start_info.memmap_entries = entries;

	/* the ELF64 */
	const struct multiboot_module *mod = (const void *)(uintptr_t)mbi->mods_addr;
	const uint8_t *image = (const uint8_t *)(uintptr_t)mod->mod_start;
	const struct elf64_ehdr *eh = (const void *)image;
	if (memcmp(eh->ident, "\x7f" "ELF", 4) || eh->ident[4] != 2 || eh->machine != 62)
		fail("the module is not an x86-64 ELF64");
	for (uint32_t i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *ph = (const void *)(image + eh->phoff + (uint64_t)i * eh->phentsize);
		if (ph->type != 1)
			continue;
		if (ph->paddr + ph->memsz > 0x800000)
			fail("a segment reaches above 8 MiB, where the loader lives");
		uint8_t *dst = (uint8_t *)(uintptr_t)ph->paddr;
		memcpy(dst, image + ph->offset, (size_t)ph->filesz);
		memset(dst + ph->filesz, 0, (size_t)(ph->memsz - ph->filesz));
	}

	/* identity map 4 GiB with 2 MiB pages */
	pml4[0] = (uintptr_t)pdpt | 3;
	for (int i = 0; i < 4; i++) {
		pdpt[i] = (uintptr_t)pd[i] | 3;
		for (int j = 0; j < 512; j++)
			pd[i][j] = ((uint64_t)i << 30 | (uint64_t)j << 21) | 0x83;
	}
	enter_long_mode((uint32_t)eh->entry, (uintptr_t)&start_info, (uintptr_t)pml4,
			(uintptr_t)(guest_stack + sizeof(guest_stack)));
}
