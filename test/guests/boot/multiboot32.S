/* multiboot v1 entry (ELF32, loaded at 1 MiB).
 * The loader enters in 32-bit protected mode, paging off, flat segments,
 * EAX = 0x2BADB002, EBX = physical address of the multiboot_info. */

#define MULTIBOOT_HEADER_MAGIC     0x1BADB002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002
#define MULTIBOOT_PAGE_ALIGN       (1 << 0)
#define MULTIBOOT_MEMORY_INFO      (1 << 1)
#define MULTIBOOT_FLAGS            (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)
#define BOOT_UNKNOWN               0
#define BOOT_MULTIBOOT             1

	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)

	.section .text.boot, "ax"
	.code32
	.global multiboot_entry
	.type multiboot_entry, @function
multiboot_entry:
	cli
	cld
	mov	%eax, %edx			/* keep the magic */
	/* zero .bss (the stack lives there too) */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl
	mov	$stack_top, %esp
	xor	%ebp, %ebp
	mov	$BOOT_UNKNOWN, %eax
	cmp	$MULTIBOOT_BOOTLOADER_MAGIC, %edx
	jne	1f
	mov	$BOOT_MULTIBOOT, %eax
1:	sub	$8, %esp			/* keep 16-byte alignment at the call */
	push	%ebx				/* kernel_main(protocol, info) */
	push	%eax
	call	kernel_main
2:	cli
	hlt
	jmp	2b
	.size multiboot_entry, . - multiboot_entry

	.section .bss
	.balign 16
stack_bottom:
	.skip 16384
	.global stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
