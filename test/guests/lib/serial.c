/* COM1 16550A, polled. Transmit: wait for LSR.THRE, then (FIFOs enabled)
 * up to 16 bytes go into the transmit FIFO without another LSR read.
 * serial_init(0) leaves FCR alone: enabling the FIFOs flushes the receive
 * side, which would lose input typed (or piped) before the guest started. */
#include "io.h"
#include "lib.h"

#define COM1          0x3f8
#define UART_RBR      0      /* receive buffer (read, DLAB=0) */
#define UART_THR      0      /* transmit holding (write, DLAB=0) */
#define UART_DLL      0      /* divisor latch low (DLAB=1) */
#define UART_IER      1
#define UART_DLM      1      /* divisor latch high (DLAB=1) */
#define UART_IIR      2      /* read */
#define UART_FCR      2      /* write */
#define UART_LCR      3
#define UART_MCR      4
#define UART_LSR      5
#define UART_LCR_8N1  0x03
#define UART_LCR_DLAB 0x80
#define UART_FCR_ENABLE_CLEAR 0x07
#define UART_IIR_FIFO_MASK    0xc0
#define UART_MCR_DTR_RTS      0x03   /* OUT2 off: no interrupts reach the PIC */
#define UART_LSR_DR   0x01
#define UART_LSR_THRE 0x20

int console_mirror_e9;
static unsigned tx_fifo_size = 1;
static unsigned tx_room;

void serial_init(int enable_fifo)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, UART_LCR_DLAB);
	outb(COM1 + UART_DLL, 0x01);            /* 115200 baud */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	if (enable_fifo)
		outb(COM1 + UART_FCR, UART_FCR_ENABLE_CLEAR);
	outb(COM1 + UART_MCR, UART_MCR_DTR_RTS);
	tx_fifo_size = (inb(COM1 + UART_IIR) & UART_IIR_FIFO_MASK) == UART_IIR_FIFO_MASK ? 16 : 1;
	tx_room = 0;
}

void serial_putc(char c)
{
	if (tx_room == 0) {
		while (!(inb(COM1 + UART_LSR) & UART_LSR_THRE))
			cpu_relax();
		tx_room = tx_fifo_size;
	}
	outb(COM1 + UART_THR, (uint8_t)c);
	tx_room--;
	if (console_mirror_e9)
		outb(PORT_DEBUGCON, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	while (n--)
		serial_putc(*s++);
}

int serial_getc_nowait(void)
{
	if (!(inb(COM1 + UART_LSR) & UART_LSR_DR))
		return -1;
	return inb(COM1 + UART_RBR);
}

char serial_getc(void)
{
	int c;
	while ((c = serial_getc_nowait()) < 0)
		cpu_relax();
	return (char)c;
}
