/* step_sequence: a straight line of 21 non-branching instructions (plus ret)
 * for instruction-stepping tests. Returns 0x1234abcd in EAX; touches only
 * caller-saved registers (eax, ecx, edx). The comment on each line is the
 * state after it. */
	.text
	.code32
	.global step_sequence
	.type step_sequence, @function
step_sequence:
	xor	%eax, %eax		/* eax = 0 */
	mov	$0x12, %ecx		/* ecx = 0x12 */
	shl	$8, %ecx		/* ecx = 0x1200 */
	add	$0x34, %ecx		/* ecx = 0x1234 */
	shl	$16, %ecx		/* ecx = 0x12340000 */
	mov	$0xab, %edx		/* edx = 0xab */
	shl	$8, %edx		/* edx = 0xab00 */
	nop
	lea	(%ecx,%edx), %eax	/* eax = 0x1234ab00 */
	mov	$0xff, %edx		/* edx = 0xff */
	xor	$0x32, %edx		/* edx = 0xcd */
	lea	(%eax,%edx), %ecx	/* ecx = 0x1234abcd */
	mov	$0x1000, %edx		/* edx = 0x1000 */
	add	%edx, %ecx		/* ecx = 0x1234bbcd */
	sub	%edx, %ecx		/* ecx = 0x1234abcd */
	not	%ecx			/* ecx = 0xedcb5432 */
	not	%ecx			/* ecx = 0x1234abcd */
	lea	0x10(%ecx), %edx	/* edx = 0x1234abdd */
	nop
	lea	-0x10(%edx), %eax	/* eax = 0x1234abcd */
	mov	%eax, %ecx		/* ecx = 0x1234abcd */
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
	incl	spin_counter
	jmp	spin_loop
	.size spin_forever, . - spin_forever

	.section .note.GNU-stack, "", @progbits
