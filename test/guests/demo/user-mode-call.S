/* user_mode_call(fn, user_stack_top): run fn() at CPL 3 and come back.
 *
 * Why: on a PVM host KVM emulates a non-PVM guest's ring-0 code instruction
 * by instruction (~1.3 us each on the AMD EPYC host of session 12), but runs
 * its ring-3 code natively. So `kvmdbg demo` (cmdline word user-mode)
 * computes its picture in ring 3. user_mode_setup() (user-mode.c) has
 * loaded a GDT with ring-3 segments, a TSS whose RSP0 is the stack the trap
 * back arrives on, an IDT and page tables with the U bit.
 *
 * The way back is a ud2: the #UD gate. Not `int $0x80`: that PVM turns an
 * INT n from ring 3 into a #UD anyway. A #UD anywhere else is a guest bug,
 * and it triple-faults (the VMM names that) instead of returning. */
#define KERNEL_DS   0x10
#define USER_DS     (0x18 | 3)
#define USER_CS     (0x20 | 3)
#define RFLAGS_IF   (1 << 9)

	.text
	.code64
	.global user_mode_call
	.type user_mode_call, @function
user_mode_call:
	push	%rbp
	mov	%rsp, %rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, kernel_rsp(%rip)
	push	$USER_DS
	push	%rsi				/* the user stack */
	pushf
	andq	$~RFLAGS_IF, (%rsp)		/* no interrupts: nothing handles them */
	push	$USER_CS
	lea	user_mode_entry(%rip), %rax
	push	%rax
	iretq					/* rdi (fn) survives */
	.size user_mode_call, . - user_mode_call

	.type user_mode_entry, @function
user_mode_entry:
	xor	%ebp, %ebp			/* the user stack's first frame */
	call	*%rdi
user_mode_exit:
	ud2
	.size user_mode_entry, . - user_mode_entry

	.global user_mode_return
	.type user_mode_return, @function
user_mode_return:				/* the #UD gate, on the TSS's RSP0 */
	lea	user_mode_exit(%rip), %rax
	cmp	%rax, (%rsp)			/* the #UD frame's RIP */
	jne	unexpected_ud
	mov	$KERNEL_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	kernel_rsp(%rip), %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
unexpected_ud:
	lidt	no_idt(%rip)
	ud2					/* no IDT: a triple fault */
	.size user_mode_return, . - user_mode_return

	.section .rodata
no_idt:
	.word	0
	.quad	0

	.bss
	.balign 8
kernel_rsp:
	.skip 8
