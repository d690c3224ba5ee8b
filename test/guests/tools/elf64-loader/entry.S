/* elf64-loader: a multiboot v1 kernel, for QEMU tests only, that boots an
 * ELF64 (given as the first multiboot module) the way kvmdbg's VMM does for
 * a plain ELF64: in long mode at e_entry, the first 4 GiB identity-mapped
 * with 2 MiB pages, flat 64-bit CS, RDI = hvm_start_info, valid RSP.
 * Linked at 8 MiB so that the guest can load at 1 MiB. */

#define MULTIBOOT_HEADER_MAGIC     0x1BADB002
#define MULTIBOOT_FLAGS            3
#define CR0_PG                     (1 << 31)
#define CR4_PAE                    (1 << 5)
#define MSR_EFER                   0xC0000080
#define EFER_LME                   (1 << 8)

	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_HEADER_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_FLAGS)

	.section .text.boot, "ax"
	.code32
	.global loader_entry
loader_entry:
	cli
	cld
	mov	$loader_stack_top, %esp
	xor	%ebp, %ebp
	push	%ebx
	push	%eax
	call	loader_main			/* does not return */
1:	hlt
	jmp	1b

/* void enter_long_mode(uint32_t entry, uint32_t start_info, uint32_t pml4, uint32_t stack) */
	.global enter_long_mode
enter_long_mode:
	mov	4(%esp), %ebx			/* entry */
	mov	8(%esp), %esi			/* start_info */
	mov	12(%esp), %eax			/* pml4 */
	mov	16(%esp), %ebp			/* guest stack */
	mov	%eax, %cr3
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	lgdt	loader_gdt_desc
	mov	%cr0, %eax
	or	$CR0_PG, %eax
	mov	%eax, %cr0
	ljmp	$0x08, $1f
	.code64
1:	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%esi, %edi			/* RDI = hvm_start_info */
	mov	%ebp, %esp			/* RSP = a valid stack */
	xor	%ebp, %ebp
	mov	%ebx, %ebx
	xor	%eax, %eax
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	jmp	*%rbx

	.section .rodata
	.balign 16
loader_gdt:
	.quad	0
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff		/* 0x10: data */
loader_gdt_desc:
	.word	loader_gdt_desc - loader_gdt - 1
	.long	loader_gdt

	.section .bss
	.balign 16
	.skip	16384
loader_stack_top:

	.section .note.GNU-stack, "", @progbits
