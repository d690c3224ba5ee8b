/* The multiboot2 boot information as GRUB 2 (and kvmdbg) writes it: a
 * u32 total size and a reserved word, then 8-byte aligned tags. */
#ifndef KVMDBG_GUEST_MB2_H
#define KVMDBG_GUEST_MB2_H
#include <stdint.h>

#define MB2_BOOTLOADER_MAGIC 0x36d76289
enum {
	MB2_TAG_END = 0, MB2_TAG_CMDLINE = 1, MB2_TAG_LOADER = 2, MB2_TAG_MODULE = 3, MB2_TAG_MEMINFO = 4,
	MB2_TAG_MMAP = 6, MB2_TAG_FRAMEBUFFER = 8, MB2_TAG_ELF_SECTIONS = 9, MB2_TAG_ACPI_OLD = 14,
	MB2_TAG_ACPI_NEW = 15, MB2_TAG_LOAD_BASE = 21,
};

struct mb2_tag { uint32_t type, size; };
struct mb2_string { struct mb2_tag tag; char string[]; };
struct mb2_module { struct mb2_tag tag; uint32_t start, end; char cmdline[]; };
struct mb2_meminfo { struct mb2_tag tag; uint32_t lower, upper; };
struct mb2_mmap_entry { uint64_t addr, len; uint32_t type, zero; };
struct mb2_mmap { struct mb2_tag tag; uint32_t entry_size, entry_version; struct mb2_mmap_entry entries[]; };
struct mb2_framebuffer {
	struct mb2_tag tag;
	uint64_t addr;
	uint32_t pitch, width, height;
	uint8_t bpp, type;
	uint16_t reserved;
	uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
} __attribute__((packed));
struct mb2_elf_sections { struct mb2_tag tag; uint32_t num, entsize, shndx; };
struct mb2_rsdp { struct mb2_tag tag; char signature[8]; uint8_t checksum; char oem[6]; uint8_t revision; uint32_t rsdt;
	uint32_t length; uint64_t xsdt; } __attribute__((packed));
struct mb2_load_base { struct mb2_tag tag; uint32_t addr; };

/* The first tag of `type` after `after` (NULL: from the start), or NULL. Stops at the end tag and at total_size. */
static inline const struct mb2_tag *mb2_next(uintptr_t info, uint32_t type, const struct mb2_tag *after)
{
	uint32_t total = *(const uint32_t *)info;
	uintptr_t p = after ? (uintptr_t)after + ((after->size + 7) & ~7u) : info + 8;
	while (p + 8 <= info + total) {
		const struct mb2_tag *t = (const struct mb2_tag *)p;
		if (t->type == MB2_TAG_END || t->size < 8)
			return 0;
		if (t->type == type)
			return t;
		p += (t->size + 7) & ~7u;
	}
	return 0;
}
#endif
