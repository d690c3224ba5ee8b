/* What the loader told us: protocol, cmdline, RAM from the memory map. */
#include "bootproto.h"
#include "lib.h"

const char *boot_protocol_name(enum boot_protocol p)
{
	switch (p) {
	case BOOT_MULTIBOOT: return "multiboot";
	case BOOT_PVH:       return "pvh";
	case BOOT_ELF64:     return "elf64";
	default:             return "unknown";
	}
}

/* Physical addresses are identity-mapped (paging off in 32-bit kernels,
 * the first 4 GiB mapped 1:1 in 64-bit ones); refuse the rest. */
static const void *phys(uint64_t pa)
{
	if (pa == 0 || pa >= 0x100000000ull)
		return NULL;
	return (const void *)(uintptr_t)pa;
}

static void parse_multiboot(struct boot_info *bi, const struct multiboot_info *mbi)
{
	if ((mbi->flags & MULTIBOOT_INFO_CMDLINE) && phys(mbi->cmdline))
		bi->cmdline = phys(mbi->cmdline);
	if (mbi->flags & MULTIBOOT_INFO_MEM_MAP) {
		uintptr_t p = mbi->mmap_addr, end = p + mbi->mmap_length;
		bi->has_memmap = 1;
		while (p + sizeof(struct multiboot_mmap_entry) <= end) {
			const struct multiboot_mmap_entry *e = (const void *)p;
			if (e->type == 1) {
				bi->ram_bytes += e->len;
				bi->ram_ranges++;
			}
			p += e->size + sizeof(e->size);
		}
	} else if (mbi->flags & MULTIBOOT_INFO_MEMORY) {
		bi->ram_bytes = ((uint64_t)mbi->mem_lower + mbi->mem_upper) << 10;
		bi->ram_ranges = 2;
	}
}

static void parse_pvh(struct boot_info *bi, const struct hvm_start_info *si)
{
	if (si->magic != XEN_HVM_START_MAGIC_VALUE)
		return;
	if (phys(si->cmdline_paddr))
		bi->cmdline = phys(si->cmdline_paddr);
	if (si->version >= 1 && si->memmap_entries && phys(si->memmap_paddr)) {
		const struct hvm_memmap_table_entry *e = phys(si->memmap_paddr);
		bi->has_memmap = 1;
		for (uint32_t i = 0; i < si->memmap_entries; i++) {
			if (e[i].type == XEN_HVM_MEMMAP_TYPE_RAM) {
				bi->ram_bytes += e[i].size;
				bi->ram_ranges++;
			}
		}
	}
}

void boot_info_parse(struct boot_info *bi, uint32_t protocol, uintptr_t info)
{
	memset(bi, 0, sizeof(*bi));
	bi->protocol = (enum boot_protocol)protocol;
	bi->info_addr = info;
	bi->cmdline = "";
	if (!phys(info))
		return;
	if (protocol == BOOT_MULTIBOOT)
		parse_multiboot(bi, phys(info));
	else if (protocol == BOOT_PVH || protocol == BOOT_ELF64)
		parse_pvh(bi, phys(info));
}
