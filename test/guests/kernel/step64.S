/* step_sequence: a straight line of 21 non-branching instructions (plus ret)
 * for instruction-stepping tests. Returns 0x1234abcd in RAX; touches only
 * caller-saved registers. The comment on each line is the state after it. */
	.text
	.code64
	.global step_sequence
	.type step_sequence, @function
step_sequence:
	xor	%eax, %eax		/* rax = 0 */
	mov	$0x12, %ecx		/* rcx = 0x12 */
	shl	$8, %rcx		/* rcx = 0x1200 */
	add	$0x34, %rcx		/* rcx = 0x1234 */
	shl	$16, %rcx		/* rcx = 0x12340000 */
	mov	$0xab, %edx		/* rdx = 0xab */
	shl	$8, %rdx		/* rdx = 0xab00 */
	nop
	lea	(%rcx,%rdx), %rsi	/* rsi = 0x1234ab00 */
	mov	$0xff, %edi		/* rdi = 0xff */
	xor	$0x32, %edi		/* rdi = 0xcd */
	lea	(%rsi,%rdi), %r8	/* r8  = 0x1234abcd */
	mov	$0x1000, %r10d		/* r10 = 0x1000 */
	add	%r10, %r8		/* r8  = 0x1234bbcd */
	sub	%r10, %r8		/* r8  = 0x1234abcd */
	not	%r8			/* r8  = 0xffffffffedcb5432 */
	not	%r8			/* r8  = 0x1234abcd */
	lea	0x10(%r8), %r9		/* r9  = 0x1234abdd */
	nop
	lea	-0x10(%r9), %r11	/* r11 = 0x1234abcd */
	mov	%r11, %rax		/* rax = 0x1234abcd */
	ret
	.size step_sequence, . - step_sequence

/* spin_forever: interrupts off, then spin_loop counts in spin_counter
 * forever (a target for pause/kick tests). */
	.global spin_forever
	.type spin_forever, @function
spin_forever:
	cli
	.global spin_loop
spin_loop:
	incl	spin_counter(%rip)
	jmp	spin_loop
	.size spin_forever, . - spin_forever

	.section .note.GNU-stack, "", @progbits
