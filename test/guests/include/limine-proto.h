/* The parts of the Limine boot protocol the kvmdbg test kernel uses, written
 * from its specification (limine-protocol PROTOCOL.md): request IDs,
 * request and response structures, constants. Our own header, so the test
 * kernel needs nothing fetched. */
#ifndef KVMDBG_LIMINE_PROTO_H
#define KVMDBG_LIMINE_PROTO_H

#include <stdint.h>

#define LMN_COMMON 0xc7b1dd30df4c8b88ull, 0x0a82e883a194f07bull
#define LMN_ID(a, b) { LMN_COMMON, a, b }

#define LMN_BASE_REVISION(n) { 0xf9562b2d5c95a6c8ull, 0x6a7b384944536bdcull, (n) }
#define LMN_START_MARKER { 0xf6b8f4b39de7d1aeull, 0xfab91a6940fcb9cfull, 0x785c6ed015d3e316ull, 0x181e920a7852b9d9ull }
#define LMN_END_MARKER { 0xadc0e0531bb10d03ull, 0x9572709f31764c62ull }
/* The bootloader sets the third word to 0 when it supports the revision asked for, and (revision 3 on) the second to the revision used. */
#define LMN_BASE_REVISION_MAGIC1 0x6a7b384944536bdcull

#define LMN_BOOTLOADER_INFO_ID   LMN_ID(0xf55038d8e2a1202full, 0x279426fcf5f59740ull)
#define LMN_EXECUTABLE_CMDLINE_ID LMN_ID(0x4b161536e598651eull, 0xb390ad4a2f1f303aull)
#define LMN_FIRMWARE_TYPE_ID     LMN_ID(0x8c2f75d90bef28a8ull, 0x7045a4688eac00c3ull)
#define LMN_STACK_SIZE_ID        LMN_ID(0x224ef0460a8e8926ull, 0xe1cb0fc25f46ea3dull)
#define LMN_HHDM_ID              LMN_ID(0x48dcf1cb8ad2b852ull, 0x63984e959a98244bull)
#define LMN_FRAMEBUFFER_ID       LMN_ID(0x9d5827dcd881dd75ull, 0xa3148604f6fab11bull)
#define LMN_PAGING_MODE_ID       LMN_ID(0x95c1a0edab0944cbull, 0xa4e5cb3842f7488aull)
#define LMN_MP_ID                LMN_ID(0x95a67b819a1b857eull, 0xa0b61b723b6a73e0ull)
#define LMN_MEMMAP_ID            LMN_ID(0x67cf3d9d378a806full, 0xe304acdfc50c3c62ull)
#define LMN_ENTRY_POINT_ID       LMN_ID(0x13d86c035a1cd3e1ull, 0x2b0caa89d8f3026aull)
#define LMN_EXECUTABLE_FILE_ID   LMN_ID(0xad97e90e83f1ed67ull, 0x31eb5d1c5ff23b69ull)
#define LMN_MODULE_ID            LMN_ID(0x3e7e279702be32afull, 0xca1c4f3bd1280ceeull)
#define LMN_RSDP_ID              LMN_ID(0xc5e77b6b397e7b43ull, 0x27637845accdcf3cull)
#define LMN_SMBIOS_ID            LMN_ID(0x9e9046f11e095391ull, 0xaa4a520fefbde5eeull)
#define LMN_DATE_AT_BOOT_ID      LMN_ID(0x502746e184c088aaull, 0xfbc5ec83e6327893ull)
#define LMN_EXECUTABLE_ADDRESS_ID LMN_ID(0x71ba76863cc55f63ull, 0xb2644a48c516a487ull)

#define LMN_MEMMAP_USABLE 0
#define LMN_MEMMAP_BOOTLOADER_RECLAIMABLE 5
#define LMN_FIRMWARE_X86BIOS 0
#define LMN_PAGING_4LVL 0
#define LMN_PAGING_5LVL 1

/* Every request starts with these; `response` is filled in by the loader. */
#define LMN_REQUEST_HEAD(resp) uint64_t id[4]; uint64_t revision; resp *response

struct lmn_bootloader_info_response { uint64_t revision; const char *name; const char *version; };
struct lmn_bootloader_info_request { LMN_REQUEST_HEAD(struct lmn_bootloader_info_response); };

struct lmn_cmdline_response { uint64_t revision; const char *cmdline; };
struct lmn_cmdline_request { LMN_REQUEST_HEAD(struct lmn_cmdline_response); };

struct lmn_firmware_type_response { uint64_t revision; uint64_t firmware_type; };
struct lmn_firmware_type_request { LMN_REQUEST_HEAD(struct lmn_firmware_type_response); };

struct lmn_stack_size_response { uint64_t revision; };
struct lmn_stack_size_request { LMN_REQUEST_HEAD(struct lmn_stack_size_response); uint64_t stack_size; };

struct lmn_hhdm_response { uint64_t revision; uint64_t offset; };
struct lmn_hhdm_request { LMN_REQUEST_HEAD(struct lmn_hhdm_response); };

struct lmn_framebuffer {
	void *address;
	uint64_t width, height, pitch;
	uint16_t bpp;
	uint8_t memory_model;
	uint8_t red_mask_size, red_mask_shift, green_mask_size, green_mask_shift, blue_mask_size, blue_mask_shift;
	uint8_t unused[7];
	uint64_t edid_size;
	void *edid;
	uint64_t mode_count;   /* response revision 1 */
	void **modes;
};
struct lmn_framebuffer_response { uint64_t revision; uint64_t framebuffer_count; struct lmn_framebuffer **framebuffers; };
struct lmn_framebuffer_request { LMN_REQUEST_HEAD(struct lmn_framebuffer_response); };

struct lmn_paging_mode_response { uint64_t revision; uint64_t mode; };
struct lmn_paging_mode_request { LMN_REQUEST_HEAD(struct lmn_paging_mode_response); uint64_t mode, max_mode, min_mode; };

struct lmn_mp_info;
typedef void (*lmn_goto_address)(struct lmn_mp_info *);
struct lmn_mp_info { uint32_t processor_id; uint32_t lapic_id; uint64_t reserved; lmn_goto_address goto_address; uint64_t extra_argument; };
struct lmn_mp_response { uint64_t revision; uint32_t flags; uint32_t bsp_lapic_id; uint64_t cpu_count; struct lmn_mp_info **cpus; };
struct lmn_mp_request { LMN_REQUEST_HEAD(struct lmn_mp_response); uint64_t flags; };

struct lmn_memmap_entry { uint64_t base, length, type; };
struct lmn_memmap_response { uint64_t revision; uint64_t entry_count; struct lmn_memmap_entry **entries; };
struct lmn_memmap_request { LMN_REQUEST_HEAD(struct lmn_memmap_response); };

struct lmn_entry_point_response { uint64_t revision; };
struct lmn_entry_point_request { LMN_REQUEST_HEAD(struct lmn_entry_point_response); void (*entry)(void); };

struct lmn_uuid { uint32_t a; uint16_t b, c; uint8_t d[8]; };
struct lmn_file {
	uint64_t revision;
	void *address;
	uint64_t size;
	const char *path;
	const char *string;
	uint32_t media_type, unused;
	uint8_t tftp_ipv4[4];
	uint32_t tftp_port, partition_index, mbr_disk_id;
	struct lmn_uuid gpt_disk_uuid, gpt_part_uuid, part_uuid;
};
struct lmn_executable_file_response { uint64_t revision; struct lmn_file *executable_file; };
struct lmn_executable_file_request { LMN_REQUEST_HEAD(struct lmn_executable_file_response); };

struct lmn_module_response { uint64_t revision; uint64_t module_count; struct lmn_file **modules; };
struct lmn_module_request { LMN_REQUEST_HEAD(struct lmn_module_response); };

struct lmn_rsdp_response { uint64_t revision; void *address; };
struct lmn_rsdp_request { LMN_REQUEST_HEAD(struct lmn_rsdp_response); };

struct lmn_smbios_response { uint64_t revision; void *entry_32, *entry_64; };
struct lmn_smbios_request { LMN_REQUEST_HEAD(struct lmn_smbios_response); };

struct lmn_date_at_boot_response { uint64_t revision; int64_t timestamp; };
struct lmn_date_at_boot_request { LMN_REQUEST_HEAD(struct lmn_date_at_boot_response); };

struct lmn_executable_address_response { uint64_t revision; uint64_t physical_base, virtual_base; };
struct lmn_executable_address_request { LMN_REQUEST_HEAD(struct lmn_executable_address_response); };

#endif
