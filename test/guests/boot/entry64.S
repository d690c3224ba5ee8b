/* Entry points of the 64-bit kernels (pvh64, elf64, demo).
 *
 * _start64 (e_entry): kvmdbg's direct 64-bit ELF entry. The VMM enters in
 *   long mode with the first 4 GiB identity-mapped, a flat 64-bit CS,
 *   RDI = physical address of an hvm_start_info and a valid RSP.
 *
 * pvh_start32 (only with -DPVH_NOTE, named by the Xen ELF note
 *   XEN_ELFNOTE_PHYS32_ENTRY): the PVH boot ABI enters in 32-bit protected
 *   mode, paging off, flat segments, EBX = physical address of the
 *   hvm_start_info. We build page tables mapping the first 4 GiB 1:1 with
 *   2 MiB pages, load our own GDT, enable long mode and join the 64-bit code.
 *
 * Both call kernel_main(protocol, boot_info) on our own stack. */

#define BOOT_PVH                 2
#define BOOT_ELF64               3
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define CR0_PE                   (1 << 0)
#define CR0_PG                   (1 << 31)
#define CR4_PAE                  (1 << 5)
#define MSR_EFER                 0xC0000080
#define EFER_LME                 (1 << 8)
#define PTE_P                    (1 << 0)
#define PTE_RW                   (1 << 1)
#define PTE_PS                   (1 << 7)
#define GDT_CODE64               0x08
#define GDT_DATA                 0x10

	.section .text.boot, "ax"
	.code64
	.global _start64
	.type _start64, @function
_start64:
	cli
	cld
	mov	%rdi, %r12			/* hvm_start_info */
	/* zero .bss (the stack lives there too) */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
	sub	%rdi, %rcx
	shr	$3, %rcx
	xor	%eax, %eax
	rep stosq
	lea	stack_top(%rip), %rsp
	xor	%ebp, %ebp
	mov	$BOOT_ELF64, %edi
	mov	%r12, %rsi
	call	kernel_main
1:	cli
	hlt
	jmp	1b
	.size _start64, . - _start64

#ifdef PVH_NOTE
	.section .note.Xen, "a", @note
	.balign 4
	.long	2f - 1f			/* namesz */
	.long	4f - 3f			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.balign 4
3:	.quad	pvh_start32
4:	.balign 4

	.section .text.boot, "ax"
	.code32
	.global pvh_start32
	.type pvh_start32, @function
pvh_start32:
	cli
	cld
	mov	%ebx, %esi			/* hvm_start_info */
	/* zero .bss: page tables and stack live there */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl
	/* PML4[0] -> PDPT; PDPT[0..3] -> pd[0..3]; 2048 2 MiB pages = 4 GiB */
	mov	$pdpt + (PTE_P | PTE_RW), %eax
	mov	%eax, pml4
	mov	$pd + (PTE_P | PTE_RW), %eax
	mov	%eax, pdpt
	add	$0x1000, %eax
	mov	%eax, pdpt + 8
	add	$0x1000, %eax
	mov	%eax, pdpt + 16
	add	$0x1000, %eax
	mov	%eax, pdpt + 24
	mov	$pd, %edi
	mov	$(PTE_P | PTE_RW | PTE_PS), %eax
	mov	$2048, %ecx
2:	mov	%eax, (%edi)			/* high dword stays 0 */
	add	$0x200000, %eax
	add	$8, %edi
	loop	2b
	lgdt	gdt_desc
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$(CR0_PG | CR0_PE), %eax
	mov	%eax, %cr0
	ljmp	$GDT_CODE64, $pvh_start64
	.size pvh_start32, . - pvh_start32

	.code64
	.type pvh_start64, @function
pvh_start64:
	mov	$GDT_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	lea	stack_top(%rip), %rsp
	xor	%ebp, %ebp
	mov	$BOOT_PVH, %edi
	mov	%esi, %esi			/* zero-extend hvm_start_info */
	call	kernel_main
1:	cli
	hlt
	jmp	1b
	.size pvh_start64, . - pvh_start64

	.section .rodata
	.balign 16
gdt:
	.quad	0				/* null */
	.quad	0x00af9a000000ffff		/* 0x08: 64-bit code, DPL 0 */
	.quad	0x00cf92000000ffff		/* 0x10: flat data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.section .bss
	.balign 4096
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
#endif

	.section .bss
	.balign 16
stack_bottom:
	.skip 16384
	.global stack_top
stack_top:

	.section .note.GNU-stack, "", @progbits
