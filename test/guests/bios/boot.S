/*
 * A BIOS boot sector as tutorials write them: prints with INT 10h, reads
 * its second stage with INT 13h (the first sector by CHS, AH=02h; the rest
 * by LBA, AH=42h after the AH=41h extensions check) to 0000:8000, and
 * jumps there with DL = the boot drive. Its print helpers serve stage 2 too.
 */
	.code16
	.section .boot, "ax"
	.globl _start, puts, puthex8, puthex16, puthex32, newline, boot_drive
_start:
	ljmp	$0, $1f			/* CS:IP = 0000:7Cxx whatever the BIOS jumped with */
1:	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7c00, %sp
	mov	%dl, boot_drive
	mov	$hello, %si
	call	puts
	mov	boot_drive, %al
	call	puthex8
	call	newline

	mov	$0x0201, %ax		/* read 1 sector */
	mov	$0x0002, %cx		/* cylinder 0, sector 2 */
	xor	%dh, %dh		/* head 0 */
	mov	boot_drive, %dl
	mov	$0x8000, %bx		/* to ES:BX = 0000:8000 */
	int	$0x13
	jc	disk_error
	mov	$chs_ok, %si
	call	puts

	mov	$0x41, %ah
	mov	$0x55aa, %bx
	mov	boot_drive, %dl
	int	$0x13
	jc	no_edd
	cmp	$0xaa55, %bx
	jne	no_edd
	mov	$dap, %si
	mov	$0x42, %ah
	mov	boot_drive, %dl
	int	$0x13
	jc	disk_error
	mov	$lba_ok, %si
	call	puts
	mov	dap + 2, %ax		/* sectors the BIOS says it read */
	call	puthex16
	call	newline
	mov	boot_drive, %dl
	ljmp	$0, $stage2_main

no_edd:
	mov	$no_edd_msg, %si
	call	puts
	jmp	halt
disk_error:
	mov	%ah, %al
	mov	$disk_error_msg, %si
	call	puts
	call	puthex8
halt:	cli
	hlt
	jmp	halt

/* The NUL-terminated string at DS:SI, by INT 10h AH=0Eh. */
puts:	pusha
1:	lodsb
	test	%al, %al
	jz	2f
	mov	$0x0e, %ah
	xor	%bh, %bh
	int	$0x10
	jmp	1b
2:	popa
	ret

newline:
	push	%si
	mov	$crlf, %si
	call	puts
	pop	%si
	ret

/* AL, EAX, AX as hex digits. */
puthex8:
	pusha
	mov	$2, %cx
	shl	$8, %ax
	jmp	hexdigits
puthex16:
	pusha
	mov	$4, %cx
hexdigits:
	rol	$4, %ax
	push	%ax
	and	$0x0f, %al
	add	$'0', %al
	cmp	$'9', %al
	jbe	1f
	add	$('a' - '9' - 1), %al
1:	mov	$0x0e, %ah
	xor	%bh, %bh
	int	$0x10
	pop	%ax
	loop	hexdigits
	popa
	ret
puthex32:
	pushal
	push	%eax
	shr	$16, %eax
	call	puthex16
	pop	%eax
	call	puthex16
	popal
	ret

hello:		.asciz	"kvmdbg boot sector, drive "
chs_ok:		.asciz	"stage 2 sector 1 by CHS\r\n"
lba_ok:		.asciz	"stage 2 by LBA, sectors "
no_edd_msg:	.asciz	"no INT 13h extensions"
disk_error_msg:	.asciz	"disk error "
crlf:		.asciz	"\r\n"
boot_drive:	.byte	0
	.balign	4
dap:	.byte	0x10, 0
	.word	stage2_sectors - 1	/* the rest of stage 2 */
	.word	0x8200, 0		/* to 0000:8200 */
	.quad	2			/* from LBA 2 */
