/* multiboot2 entry (ELF32, loaded at 1 MiB): the header GRUB 2 and kvmdbg
 * read, then the 32-bit entry. The loader enters in protected mode, paging
 * off, flat segments, EAX = 0x36D76289, EBX = the boot information.
 * The header asks (required) for the command line, loader name, modules,
 * memory map, framebuffer and both ACPI RSDPs, a 1024x768x32 framebuffer
 * and page-aligned modules. */

#define MB2_HEADER_MAGIC 0xe85250d6
#define MB2_ARCH_I386    0

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long	MB2_HEADER_MAGIC
	.long	MB2_ARCH_I386
	.long	mb2_header_end - mb2_header
	.long	-(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	.balign 8
info_request:
	.short	1, 0				/* information request, required */
	.long	info_request_end - info_request
	.long	1, 2, 3, 6, 8, 14, 15		/* cmdline, loader name, modules, mmap, framebuffer, ACPI old, new */
info_request_end:
	.balign 8
	.short	5, 0				/* framebuffer */
	.long	20
	.long	1024, 768, 32
	.balign 8
	.short	6, 0				/* module alignment */
	.long	8
	.balign 8
	.short	0, 0				/* end */
	.long	8
mb2_header_end:

	.section .text.boot, "ax"
	.code32
	.global multiboot_entry
	.type multiboot_entry, @function
multiboot_entry:
	cli
	cld
	mov	%eax, %edx			/* keep the magic */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl
	mov	$stack_top, %esp
	xor	%ebp, %ebp
	sub	$8, %esp			/* 16-byte alignment at the call */
	push	%ebx				/* kernel_main(magic, info) */
	push	%edx
	call	kernel_main
2:	cli
	hlt
	jmp	2b
	.size multiboot_entry, . - multiboot_entry

	.section .bss
	.balign 16
	.skip 16384
	.global stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
