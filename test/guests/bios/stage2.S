/*
 * The second stage, at 0000:8000: the E820 memory map (printed), A20
 * enabled through INT 15h and checked by the wrap-around test, the
 * disk's size from AH=48h and a read past its end (which must fail), two
 * INT 1Ah tick counts that differ, a line typed on the keyboard (INT 16h,
 * echoed with backspace), then 32-bit protected mode writing the VGA text
 * buffer itself, and a power-off.
 */
	.code16
	.section .text, "ax"
	.globl stage2_main
stage2_main:
	mov	%dl, drive
	mov	$e820_title, %si
	call	puts
	xor	%ebx, %ebx
e820_next:
	mov	$0xe820, %eax
	mov	$0x534d4150, %edx
	mov	$24, %ecx
	mov	$0x9000, %di		/* ES:DI = 0000:9000 */
	int	$0x15
	jc	e820_done
	cmp	$0x534d4150, %eax
	jne	e820_done
	mov	0x9004, %eax
	call	puthex32
	mov	0x9000, %eax
	call	puthex32
	call	space
	mov	0x900c, %eax
	call	puthex32
	mov	0x9008, %eax
	call	puthex32
	call	space
	mov	0x9010, %al
	call	puthex8
	call	newline
	test	%ebx, %ebx
	jnz	e820_next
e820_done:

	mov	$0x2401, %ax
	int	$0x15
	jc	a20_off
	mov	$0xffff, %ax		/* FFFF:0510 is 0x100500: the same byte as 0000:0500 only if A20 is off */
	mov	%ax, %es
	movb	$0x00, 0x0500
	movb	$0xff, %es:0x0510
	xor	%ax, %ax
	mov	%ax, %es
	cmpb	$0xff, 0x0500
	je	a20_off
	mov	$a20_on_msg, %si
	call	puts
	jmp	disk_size
a20_off:
	mov	$a20_off_msg, %si
	call	puts

disk_size:
	movw	$0x1a, params
	mov	$params, %si
	mov	$0x48, %ah
	mov	drive, %dl
	int	$0x13
	jc	1f
	mov	$sectors_msg, %si
	call	puts
	mov	params + 16, %eax
	call	puthex32
	call	newline
	mov	params + 16, %eax	/* one sector past the end */
	mov	%eax, past_dap + 8
	mov	$past_dap, %si
	mov	$0x42, %ah
	mov	drive, %dl
	int	$0x13
	mov	%ah, %al
	mov	$past_ok_msg, %si
	jnc	2f
	mov	$past_error_msg, %si
2:	call	puts
	call	puthex8
	call	newline
1:

	sti
	xor	%ah, %ah
	int	$0x1a
	mov	%dx, %bp
1:	hlt
	xor	%ah, %ah
	int	$0x1a
	cmp	%dx, %bp
	je	1b
	mov	$ticks_msg, %si
	call	puts

	mov	$prompt, %si
	call	puts
	mov	$line, %di
key:	xor	%ah, %ah
	int	$0x16
	cmp	$0x0d, %al
	je	got_line
	cmp	$0x08, %al
	je	backspace
	cmp	$line + 60, %di
	jae	key
	stosb
	mov	$0x0e, %ah
	xor	%bh, %bh
	int	$0x10
	jmp	key
backspace:
	cmp	$line, %di
	je	key
	dec	%di
	mov	$rubout, %si
	call	puts
	jmp	key
got_line:
	movb	$0, (%di)
	call	newline
	mov	$typed, %si
	call	puts
	mov	$line, %si
	call	puts
	call	newline

	cli
	lgdt	gdt_desc
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmp	$0x08, $pm32

space:	push	%si
	mov	$space_str, %si
	call	puts
	pop	%si
	ret

	.code32
pm32:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %esp
	mov	$pm_msg, %esi
	mov	$(0xb8000 + 24 * 160), %edi
1:	lodsb
	test	%al, %al
	jz	2f
	mov	$0x2f, %ah
	stosw
	jmp	1b
2:	mov	$0x604, %dx		/* ACPI PM1a: power off */
	mov	$0x2000, %ax
	out	%ax, %dx
	hlt

	.section .rodata
e820_title:	.asciz	"E820 map:\r\n"
a20_on_msg:	.asciz	"A20 on\r\n"
a20_off_msg:	.asciz	"A20 off\r\n"
sectors_msg:	.asciz	"disk sectors "
past_ok_msg:	.asciz	"read past the end succeeded?! "
past_error_msg:	.asciz	"read past the end: error "
ticks_msg:	.asciz	"ticks advance\r\n"
prompt:		.asciz	"type: "
rubout:		.asciz	"\b \b"
typed:		.asciz	"typed: "
space_str:	.asciz	" "
pm_msg:		.asciz	"32-bit protected mode"

	.section .data
	.balign	8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: flat data */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt
past_dap:
	.byte	0x10, 0
	.word	1
	.word	0x9000, 0
	.quad	0
drive:	.byte	0
params:	.fill	0x1a, 1, 0
line:	.fill	64, 1, 0
