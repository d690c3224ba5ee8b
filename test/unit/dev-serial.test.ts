import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus } from '../../vmm/bus/bus';
import type { DeviceLog, IrqLine } from '../../vmm/bus/device';
import {
  COM1_BASE, UART_PORT_COUNT, Uart16550, UART_DLL, UART_DLM, UART_FCR, UART_FCR_CLEAR_RCVR, UART_FCR_ENABLE_FIFO,
  UART_IER, UART_IER_MSI, UART_IER_RDI, UART_IER_RLSI, UART_IER_THRI, UART_IIR, UART_IIR_CTI, UART_IIR_MSI,
  UART_IIR_NO_INT, UART_IIR_RDI, UART_IIR_RLSI, UART_IIR_THRI, UART_LCR, UART_LCR_DLAB, UART_LSR, UART_LSR_DR,
  UART_LSR_OE, UART_LSR_TEMT, UART_LSR_THRE, UART_MCR, UART_MCR_DTR, UART_MCR_LOOP, UART_MCR_OUT1, UART_MCR_OUT2,
  UART_MCR_RTS, UART_MSR, UART_MSR_CTS, UART_MSR_DCD, UART_MSR_DCTS, UART_MSR_DDCD, UART_MSR_DDSR, UART_MSR_DSR,
  UART_MSR_RI, UART_MSR_TERI, UART_RX, UART_SCR, UART_TX,
} from '../../vmm/devices/serial';

/** COM1 on a PIO bus, as the machine wires it, with its IRQ line and output recorded. */
function com1(inputQueueBytes?: number) {
  const out: number[] = [];
  const irqChanges: boolean[] = [];
  const info: string[] = [];
  const irq: IrqLine = { set: (level) => irqChanges.push(level) };
  const log: DeviceLog = { info: (m) => info.push(m), guestError: (m) => info.push(m) };
  const uart = new Uart16550({ irq, log, output: (b) => { out.push(b); }, inputQueueBytes });
  const bus = new Bus('pio');
  bus.register(COM1_BASE, UART_PORT_COUNT, uart);
  const inb = (reg: number) => bus.read(COM1_BASE + reg, 1);
  const outb = (reg: number, v: number) => bus.write(COM1_BASE + reg, 1, v);
  const irqLevel = () => irqChanges.length > 0 && irqChanges[irqChanges.length - 1];
  return { uart, out, irqChanges, info, inb, outb, irqLevel };
}

test("writing 'A' to THR emits 'A'", () => {
  const { out, inb, outb } = com1();
  for (const ch of Buffer.from('A\n')) outb(UART_TX, ch);
  assert.equal(Buffer.from(out).toString(), 'A\n');
  assert.equal(inb(UART_LSR) & (UART_LSR_THRE | UART_LSR_TEMT), UART_LSR_THRE | UART_LSR_TEMT);
});

test('input raises IRQ 4 when IER.ERBFI and MCR.OUT2 are set, and reading it lowers the line', () => {
  const { uart, inb, outb, irqChanges, irqLevel } = com1();
  outb(UART_IER, UART_IER_RDI);
  uart.receive('x');
  assert.deepEqual(irqChanges, [], 'no IRQ while OUT2 gates it off');
  assert.equal(inb(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
  outb(UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
  assert.deepEqual(irqChanges, [true]);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_RDI);
  assert.equal(inb(UART_RX), 'x'.charCodeAt(0));
  assert.equal(irqLevel(), false);
  assert.equal(inb(UART_LSR) & UART_LSR_DR, 0);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_NO_INT);
  assert.deepEqual(irqChanges, [true, false], 'the line is set only when its level changes');
});

test('no interrupt for input when ERBFI is clear', () => {
  const { uart, outb, irqChanges, inb } = com1();
  outb(UART_MCR, UART_MCR_OUT2);
  uart.receive('y');
  assert.deepEqual(irqChanges, []);
  assert.equal(inb(UART_RX), 0x79);
});

test('host input beyond the 16-byte FIFO waits in the host queue and arrives in order', () => {
  const { uart, inb, outb } = com1();
  outb(UART_FCR, UART_FCR_ENABLE_FIFO);
  const text = 'the quick brown fox jumps over the lazy dog';
  assert.equal(uart.receive(text), text.length);
  assert.equal(uart.state().rxCount, 16);
  let got = '';
  while (inb(UART_LSR) & UART_LSR_DR) got += String.fromCharCode(inb(UART_RX));
  assert.equal(got, text);
  assert.equal(inb(UART_LSR) & UART_LSR_OE, 0, 'host input never overruns');
});

test('host input beyond the host queue is dropped and reported', () => {
  const { uart, info } = com1(8);
  assert.equal(uart.receive(new Uint8Array(20)), 8);
  assert.equal(uart.droppedInputBytes, 12);
  assert.equal(info.length, 1);
  assert.match(info[0], /dropped 12 byte/);
  assert.equal(uart.state().rxCount + uart.state().hostQueued, 8);
});

test('loopback echoes THR into RBR, nothing goes out, and MSR reflects MCR', () => {
  const { out, inb, outb, irqChanges } = com1();
  outb(UART_IER, UART_IER_RDI);
  outb(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
  const msr = inb(UART_MSR);
  // Linux's 8250 autoconfig check: OUT2 -> DCD, RTS -> CTS.
  assert.equal(msr & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
  assert.equal(msr & UART_MSR_DDSR, UART_MSR_DDSR, 'DSR dropped (DTR off) when loopback took over the lines');
  assert.equal(inb(UART_MSR) & 0x0f, 0, 'reading MSR clears the delta bits');
  outb(UART_TX, 0x5a);
  assert.deepEqual(out, []);
  assert.equal(inb(UART_LSR) & UART_LSR_DR, UART_LSR_DR);
  assert.equal(inb(UART_RX), 0x5a);
  assert.deepEqual(irqChanges, [], 'loopback forces OUT2 off, so the PC sees no interrupt');
});

test('MSR delta bits: DCTS, DDSR, DDCD on change, TERI on the trailing edge of RI', () => {
  const { inb, outb } = com1();
  outb(UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT1 | UART_MCR_OUT2);
  inb(UART_MSR);
  outb(UART_MCR, UART_MCR_LOOP);
  const msr = inb(UART_MSR);
  assert.equal(msr & 0xf0, 0);
  assert.equal(msr & 0x0f, UART_MSR_DCTS | UART_MSR_DDSR | UART_MSR_DDCD | UART_MSR_TERI);
  outb(UART_MCR, UART_MCR_LOOP | UART_MCR_OUT1);
  assert.equal(inb(UART_MSR), UART_MSR_RI, 'RI rising does not set TERI');
  outb(UART_MCR, 0);
  assert.equal(inb(UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS, 'outside loopback a terminal is connected');
});

test('FIFO overrun sets OE, loses the character, and reading LSR clears OE', () => {
  const { inb, outb } = com1();
  outb(UART_FCR, UART_FCR_ENABLE_FIFO);
  outb(UART_MCR, UART_MCR_LOOP);
  for (let i = 0; i < 17; i++) outb(UART_TX, 0x40 + i);
  const lsr = inb(UART_LSR);
  assert.equal(lsr & UART_LSR_OE, UART_LSR_OE);
  assert.equal(inb(UART_LSR) & UART_LSR_OE, 0);
  const got: number[] = [];
  while (inb(UART_LSR) & UART_LSR_DR) got.push(inb(UART_RX));
  assert.deepEqual(got, Array.from({ length: 16 }, (_, i) => 0x40 + i));
});

test('without the FIFO (16450 mode) a second character overruns', () => {
  const { inb, outb } = com1();
  outb(UART_MCR, UART_MCR_LOOP);
  outb(UART_TX, 1);
  outb(UART_TX, 2);
  assert.equal(inb(UART_LSR) & UART_LSR_OE, UART_LSR_OE);
  assert.equal(inb(UART_RX), 1);
});

test('THRE interrupt: raised by enabling ETBEI, cleared by reading IIR, re-raised with an edge by writing THR', () => {
  const { inb, outb, irqChanges, out } = com1();
  outb(UART_MCR, UART_MCR_OUT2);
  outb(UART_IER, UART_IER_THRI);
  assert.deepEqual(irqChanges, [true]);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_THRI);
  assert.deepEqual(irqChanges, [true, false]);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_NO_INT, 'reading IIR acknowledged it');
  outb(UART_TX, 0x21);
  assert.deepEqual(out, [0x21]);
  assert.deepEqual(irqChanges, [true, false, true]);
  outb(UART_TX, 0x22);
  assert.deepEqual(irqChanges, [true, false, true, false, true], 'each THR write gives the PIC a new edge');
  outb(UART_IER, 0);
  assert.deepEqual(irqChanges.at(-1), false);
  // Linux's UART_BUG_THRE probe: disable and re-enable must raise it again.
  outb(UART_IER, UART_IER_THRI);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_THRI);
});

test('interrupt priorities: line status > received data > THRE > modem status', () => {
  const { inb, outb } = com1();
  outb(UART_IER, UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI | UART_IER_MSI);
  outb(UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
  outb(UART_TX, 1);
  outb(UART_TX, 2); // overrun
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_RLSI);
  inb(UART_LSR);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_RDI);
  inb(UART_RX);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_THRI);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_MSI);
  inb(UART_MSR);
  assert.equal(inb(UART_IIR) & 0x0f, UART_IIR_NO_INT);
});

test('FIFO control: IIR shows FIFOs enabled, trigger level picks RDA vs timeout, CLEAR_RCVR empties', () => {
  const { uart, inb, outb } = com1();
  outb(UART_IER, UART_IER_RDI);
  outb(UART_FCR, UART_FCR_ENABLE_FIFO | (2 << 6)); // trigger at 8
  uart.receive('abc');
  assert.equal(inb(UART_IIR), 0xc0 | UART_IIR_CTI);
  uart.receive('defgh');
  assert.equal(inb(UART_IIR), 0xc0 | UART_IIR_RDI);
  outb(UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
  assert.equal(inb(UART_LSR) & UART_LSR_DR, 0);
  assert.equal(inb(UART_IIR), 0xc0 | UART_IIR_NO_INT);
  outb(UART_FCR, 0);
  assert.equal(inb(UART_IIR), UART_IIR_NO_INT);
});

test('DLAB switches offsets 0 and 1 to the divisor latch', () => {
  const { uart, inb, outb, out } = com1();
  outb(UART_LCR, UART_LCR_DLAB | 0x03);
  outb(UART_DLL, 0x01);
  outb(UART_DLM, 0x00);
  assert.equal(inb(UART_DLL), 1);
  assert.deepEqual(out, [], 'divisor writes are not output');
  outb(UART_LCR, 0x03);
  assert.equal(uart.baudRate, 115200);
  assert.equal(inb(UART_IER), 0);
  assert.equal(inb(UART_LCR), 0x03);
});

test('scratch register holds its value; IER and MCR keep only defined bits', () => {
  const { inb, outb } = com1();
  outb(UART_SCR, 0xa5);
  assert.equal(inb(UART_SCR), 0xa5);
  outb(UART_IER, 0xff);
  assert.equal(inb(UART_IER), 0x0f);
  outb(UART_MCR, 0xff);
  assert.equal(inb(UART_MCR), 0x1f);
});

test('input is held back during loopback and delivered after it', () => {
  const { uart, inb, outb } = com1();
  outb(UART_MCR, UART_MCR_LOOP);
  uart.receive('k');
  assert.equal(inb(UART_LSR) & UART_LSR_DR, 0);
  outb(UART_MCR, 0);
  assert.equal(inb(UART_RX), 0x6b);
});

test('reset returns to power-on state and lowers the IRQ', () => {
  const { uart, inb, outb, irqLevel } = com1();
  outb(UART_MCR, UART_MCR_OUT2);
  outb(UART_IER, UART_IER_THRI);
  assert.equal(irqLevel(), true);
  uart.reset();
  assert.equal(irqLevel(), false);
  assert.equal(inb(UART_IER), 0);
  assert.equal(inb(UART_MCR), 0);
});
