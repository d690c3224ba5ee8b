/* Boot protocol structures, as the loader leaves them in guest memory. */
#ifndef KVMDBG_GUEST_BOOTPROTO_H
#define KVMDBG_GUEST_BOOTPROTO_H

#include <stdint.h>

/* ---- multiboot v1 ---- */
#define MULTIBOOT_HEADER_MAGIC     0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
#define MULTIBOOT_INFO_MEMORY      (1u << 0)
#define MULTIBOOT_INFO_CMDLINE     (1u << 2)
#define MULTIBOOT_INFO_MEM_MAP     (1u << 6)

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower;      /* KiB below 1 MiB */
	uint32_t mem_upper;      /* KiB from 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length;
	uint32_t mmap_addr;
} __attribute__((packed));

struct multiboot_mmap_entry {
	uint32_t size;           /* of the rest of the entry (not counting this field) */
	uint64_t addr;
	uint64_t len;
	uint32_t type;           /* 1 = available RAM */
} __attribute__((packed));

/* ---- PVH (xen/include/public/arch-x86/hvm/start_info.h) ---- */
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578
#define XEN_HVM_MEMMAP_TYPE_RAM   1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

#endif
