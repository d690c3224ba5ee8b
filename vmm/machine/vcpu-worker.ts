/**
 * A vCPU thread. It runs KVM_RUN on its own vCPU and handles every exit
 * itself; the main thread talks to it with commands (protocol.ts), kicks it
 * through the addon, and shares guest RAM, the console rings, the control
 * word and the exit counters. vCPU 0's thread also creates the VM and owns
 * the board's devices; an AP's thread adopts the VM fd to create its own
 * vCPU and reaches the devices through its mailbox (device-mailbox.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kvm, type Vcpu, type Vm } from '../../native';
import type { DeviceLog } from '../bus/device';
import { GuestMemory } from '../memory/guest-memory';
import { ExitStats } from './exit-stats';
import { SharedRing } from './shared-ring';
import { buildPcBoard, type PcBoard } from './pc-board';
import { ExitRing } from './exit-ring';
import { COM1_BASE, COM1_IRQ } from '../devices/serial';
import { describePciConfig } from '../devices/pci';
import { VcpuRunner, type RunnerHooks, type RunOutcome } from './vcpu-runner';
import { createApVcpu, createBootVcpu, createVm, framebufferSlot } from './vm-setup';
import { MailboxServer, RemoteBuses, VM_ENDING } from './device-mailbox';
import { KVM_DEVICE } from '../host/kvm-host';
import { CONTROL_DEVICE } from './protocol';
import { VmExitControls } from '../debug/msr-filter';
import type { Command, DeviceSnapshot, Event, StateAtStop, WorkerInit } from './protocol';
import { runProbes } from '../host/probe/run-probes';
import { applySlots, slotLayout, type SlotSpec } from '../memory/slot-layout';
import { walk } from '../debug/page-walk';
import { readVirtual } from '../debug/virtual-memory';
import type { PageProtection } from '../debug/vcpu-debug';
import type { Sregs } from '../../native/types';
import { EFER_LMA } from '../cpu/control-bits';
import { analyzeFault } from '../debug/fault-chain';
import { cpuMode, idtContext } from '../debug/idt';
import { Display } from '../devices/display';
import { VBE_DISPI_LFB_PHYSICAL_ADDRESS } from '../devices/bochs-vbe';
import { KEY_RELEASE } from '../devices/scancodes';
import { setFirmwareMode } from '../boot/multiboot2-framebuffer';
import { RangeStepper } from './range-step';
import { RIP_WORD } from '../../native/state-layout';
import type { BootInfo } from '../boot/boot-state';
import { openDiskFile } from '../virtio/blk';
import { Bios } from '../bios/bios';
import { BiosCalls } from '../bios/bios-calls';
import { diskGeometry } from '../bios/geometry';
import { LaneServer, laneServed, RESULT_BREAKPOINT, RESULT_MESSAGE, RESULT_PAUSE, RESULT_STEP } from './step-lane';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (e: Event) => port.postMessage(e);

let kvm: Kvm | undefined;
let vm: Vm | undefined;
let vcpu: Vcpu | undefined;
let runner: VcpuRunner;
/** MSR breakpoints as a KVM MSR filter (VM-wide; every vCPU's thread installs the same one). */
let msrFilter: VmExitControls | undefined;
let board: PcBoard;
const control = new Int32Array(init.control);
const stateView = new Uint8Array(init.state);
let ranges: RangeStepper;
let lane: LaneServer | undefined;
const vmState = new Int32Array(init.vmState);

function shutdown(): never {
  try { board?.ata.close(); vcpu?.close(); vm?.close(); kvm?.close(); } catch { /* the process is going anyway */ }
  process.exit(0);
}

function start(): void {
  if (init.ap) startAp(init.ap);
  else startBoot();
}

/** vCPU 0: the VM, the board, the boot state; then APs' device accesses whenever it is not running. */
function startBoot(): void {
  const log: DeviceLog = {
    guestError: (message) => post({ type: 'log', level: 'guest-error', message }),
    info: (message) => post({ type: 'log', level: 'info', message }),
  };
  const consoleOut = new SharedRing(init.consoleOut);
  const consoleIn = new SharedRing(init.consoleIn);
  const keysIn = new SharedRing(init.keysIn);
  ({ kvm, vm } = createVm(init.memory.buffer, init.memory.regions));
  const theVm = vm;
  const framebuffer = framebufferSlot(theVm, init.display, init.memory.regions);
  board = buildPcBoard({
    ramBytes: init.options.memoryBytes,
    debugExit: init.options.debugExit,
    log,
    control: {
      exit: (status, reason) => runner.requestEnd({ status, message: reason, kind: status === 0 ? 'poweroff' : 'debug-exit' }),
      reset: (reason) => runner.requestEnd({ status: 0, message: reason, kind: 'reset' }),
    },
    irq: (line) => ({ set: (level) => theVm.irqLine(line, level) }),
    console: (byte) => consoleOut.push(byte),
    ide: init.options.disks.filter((d) => d.bus === 'ide'),
    virtio: { slots: init.virtio, memory: new GuestMemory(init.memory.buffer, init.memory.regions) },
    display: { display: new Display(init.display), moveFramebuffer: framebuffer },
  });
  if (!framebuffer(VBE_DISPI_LFB_PHYSICAL_ADDRESS)) log.guestError(`the framebuffer could not be mapped at 0x${VBE_DISPI_LFB_PHYSICAL_ADDRESS.toString(16)}: the screen shows VGA text only`);
  // A boot protocol that hands over a framebuffer (multiboot2, Limine) gets its mode set before entry, as firmware would.
  if (init.boot.framebuffer && board.vbe) setFirmwareMode(board.vbe, init.boot.framebuffer);
  vcpu = createBootVcpu(kvm, vm, init.vcpuId, init.boot.cpu, init.options.cpus);
  const bios = init.boot.bios && startBios(init.boot.bios, vcpu, board, log);
  const server = new MailboxServer(init.mailboxes.slice(1), board.pio, board.mmio);
  runner = new VcpuRunner(vcpu, board.pio, board.mmio, control, new ExitStats(init.stats), {
    pollInput: () => {
      const bytes = consoleIn.drain();
      if (bytes.length > 0) board.uart.receive(bytes);
      for (const k of keysIn.drain()) board.kbd.keyEvent(k & ~KEY_RELEASE, (k & KEY_RELEASE) === 0);
    },
    serveDevices: () => { server.serve(); },
    ...faultHooks(),
    bios,
  }, init.exitRing && new ExitRing(init.exitRing));
  let slots: SlotSpec[] = slotLayout(init.memory.regions, []);
  let protectedPages = '|';
  runner.debug.protection = pageProtection((readOnly, unmapped) => {
    // Every re-arm says which pages; the slots change only when they do (each change drops KVM's mappings).
    const key = `${readOnly.join()}|${unmapped.join()}`;
    if (key === protectedPages) return;
    protectedPages = key;
    const next = slotLayout(init.memory.regions, readOnly, unmapped);
    applySlots(theVm, init.memory.buffer, slots, next);
    slots = next;
  });
  ranges = rangeStepper();
  lane = laneServed(init.options.cpus) ? laneServer() : undefined;
  post({ type: 'ready', kickToken: vcpu.kickToken, vmFd: vm.fd });
  if (init.options.cpus > 1) void serveWhileIdle(server);
  void watchLane();
}

/**
 * While vCPU 0 is stopped (or between commands) its event loop answers the
 * APs: they raise CONTROL_DEVICE and notify the control word. While it runs,
 * the run loop answers them on the kick instead (VcpuRunner.serveDevices).
 */
async function serveWhileIdle(server: MailboxServer): Promise<void> {
  for (;;) {
    const word = Atomics.load(control, 0);
    if (serveAps(server)) continue;
    const wait = Atomics.waitAsync(control, 0, word);
    if (wait.async) await wait.value;
  }
}

/** kvmdbg's BIOS on this thread (a boot-sector boot): its services on the board's ports, the boot disk open read-only. */
function startBios(boot: NonNullable<BootInfo['bios']>, v: Vcpu, b: PcBoard, log: DeviceLog): BiosCalls {
  const memory = new GuestMemory(init.memory.buffer, init.memory.regions);
  const disk = openDiskFile(boot.disk, true);
  const bios = new Bios({ memory, ports: b.pio, log }, disk, diskGeometry(disk.bytes));
  bios.start();
  return new BiosCalls(v, memory, bios, log, (message) => runner.requestEnd({ kind: 'crash', status: 2, message }));
}

/** Serves the APs' device accesses waiting now; true if there were any. */
function serveAps(server: MailboxServer): boolean {
  if (!(Atomics.load(control, 0) & CONTROL_DEVICE)) return false;
  Atomics.and(control, 0, ~CONTROL_DEVICE);
  server.serve();
  // An AP's access can end the VM (ACPI power-off, i8042 reset) while vCPU 0 is stopped.
  const end = runner.endRequested;
  if (end) { Atomics.store(vmState, VM_ENDING, 1); post({ type: 'ended', end }); shutdown(); }
  return true;
}

/** While in the event loop: a fast step rung on the lane starts serving it (the next ones find the thread waiting there). */
async function watchLane(): Promise<void> {
  for (;;) {
    if (!lane) return;
    const door = lane.door;
    // A step whose earlier messages are not handled yet waits for them: the message handler serves it after them.
    if (lane.due) { lane.serve(); continue; }
    const wait = Atomics.waitAsync(lane.buffer, 0, door);
    if (wait.async) await wait.value;
  }
}

/** The fast lane (step-lane.ts): instruction steps answered through shared memory (a one-vCPU VM: no APs to serve meanwhile). */
function laneServer(): LaneServer {
  return new LaneServer(init.lane, port as unknown as import('node:worker_threads').MessagePort, {
    step: (id) => fastStep(id),
    message: (m) => onCommand(m as Command),
  });
}

/** One instruction for the lane; anything but a plain step, breakpoint or pause is answered as a reply message. */
function fastStep(id: number): number {
  let stop;
  try {
    stop = conclude(runner.step());
  } catch (e) {
    post({ type: 'reply', id, error: (e as Error).message });
    return RESULT_MESSAGE;
  }
  const state = stateNow();
  const rip = state ? new BigUint64Array(init.state, 0, 18)[RIP_WORD] : undefined;
  if (state && stop.reason === 'step') return RESULT_STEP;
  if (state && stop.reason === 'pause') return RESULT_PAUSE;
  if (state && stop.reason === 'breakpoint' && stop.address === rip) return RESULT_BREAKPOINT;
  post({ type: 'reply', id, result: stop, state });
  return RESULT_MESSAGE;
}

/** An AP: its own vCPU on vCPU 0's VM; devices through the mailbox. */
function startAp(ap: NonNullable<WorkerInit['ap']>): void {
  kvm = new Kvm(KVM_DEVICE);
  vm = kvm.adoptVm(ap.vmFd);
  vcpu = createApVcpu(kvm, vm, init.vcpuId, init.options.cpus, init.boot.aps?.[init.vcpuId - 1]);
  const remote = new RemoteBuses(init.mailboxes[init.vcpuId], new Int32Array(ap.deviceControl), ap.deviceKickToken, vmState);
  runner = new VcpuRunner(vcpu, remote.pio, remote.mmio, control, new ExitStats(init.stats), { pollInput() {}, ...faultHooks() });
  // vCPU 0's thread owns the slots; this one only recognizes writes into the protected pages.
  runner.debug.protection = pageProtection(() => {});
  ranges = rangeStepper();
  post({ type: 'ready', kickToken: vcpu.kickToken });
}

/**
 * States the CPU refuses to enter, refused here: some hosts' KVM (PVM)
 * enters them anyway and never reports a failed entry.
 */
function checkEnterable(s: Sregs): void {
  if (s.efer & EFER_LMA && s.cs.l && s.cs.db) {
    throw new Error('invalid CPU state: a 64-bit code segment (CS.L) must not have CS.D set; the CPU would refuse to enter the guest');
  }
}

/** How a fault KVM could not deliver looks from the guest's state (fault-chain.ts); guest memory through the vCPU's paging. */
function faultHooks(): Pick<RunnerHooks, 'analyzeFault' | 'codeBytes' | 'readVirtual'> {
  const memory = new GuestMemory(init.memory.buffer, init.memory.regions);
  const reader = () => {
    const sregs = vcpu!.getSregs();
    const rip = vcpu!.getRegs().rip + (cpuMode(sregs) === 'long' ? 0n : sregs.cs.base);
    const paging = { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer };
    return { sregs, rip, read: (address: bigint, length: number) => {
      const r = readVirtual(memory, paging, address, length);
      return r.unreadableBytes === 0 ? r.data : undefined;
    } };
  };
  return {
    readVirtual: (address, length) => {
      try {
        const s = vcpu!.getSregs();
        const r = readVirtual(memory, { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer }, address, length);
        return r.unreadableBytes === 0 ? r.data : undefined;
      } catch { return undefined; }
    },
    analyzeFault: () => {
      try { const r = reader(); return analyzeFault(idtContext(r.sregs), r.read, r.rip); } catch { return undefined; }
    },
    codeBytes: () => {
      try { const r = reader(); return [...(r.read(r.rip, 8) ?? [])].map((b) => b.toString(16).padStart(2, '0')).join(' '); } catch { return ''; }
    },
  };
}

/** Range steps (range-step.ts) over this vCPU: registers raw from kvm_run, return addresses through its paging. */
function rangeStepper(): RangeStepper {
  return new RangeStepper(runner, () => runner.pcSp(), faultHooks().readVirtual!);
}

/** Page-protection watchpoints' access to guest RAM from this vCPU's thread. */
function pageProtection(protect: PageProtection['protect']): PageProtection {
  const memory = new GuestMemory(init.memory.buffer, init.memory.regions);
  return {
    physical: (va) => {
      const sregs = vcpu!.getSregs();
      const w = walk(memory, { cr0: sregs.cr0, cr3: sregs.cr3, cr4: sregs.cr4, efer: sregs.efer }, va);
      return w.ok ? w.physical : undefined;
    },
    isRam: (gpa) => memory.contains(gpa),
    writeRam: (gpa, data) => memory.write(gpa, data),
    // An access running past guest RAM reads as open bus there.
    readRam: (gpa, into) => { if (memory.contains(gpa, into.length)) into.set(memory.view8(gpa, into.length)); else into.fill(0xff); },
    protect,
  };
}

/** A plain snapshot of the board's devices for the devices view (reads have no side effects). */
function devices(): DeviceSnapshot[] {
  const out: DeviceSnapshot[] = [
    { name: 'uart0', description: `16550A at 0x${COM1_BASE.toString(16)}, IRQ ${COM1_IRQ} (${board.uart.name})`, details: board.uart.describe() },
  ];
  if (board.vga) out.push({ name: 'vga', description: 'VGA text mode at 0xb8000, ports 0x3c0-0x3df', details: board.vga.describe() });
  if (board.vbe) out.push({ name: 'bochs-vbe', description: 'Bochs VBE dispi at 0x1ce-0x1d0, framebuffer at PCI BAR 0', details: board.vbe.describe() });
  for (const p of board.pci.functions()) {
    const f = p.function as typeof p.function & { describe?: () => [string, string][] };
    out.push({ name: `pci ${p.address}`, description: f.name, details: f.describe ? f.describe() : describePciConfig(f) });
  }
  out.push({ name: 'ata0', description: board.ata.describe(), details: board.ata.details() });
  // attachVirtio returns the devices in the order of the slots.
  board.virtio.forEach((dev, i) => {
    const slot = init.virtio[i];
    const what = slot.kind === 'blk' ? `blk (${slot.disk.path}${slot.disk.readOnly ? ', read-only' : ''})` : slot.kind;
    out.push({ name: dev.name, description: `virtio-mmio ${what} at 0x${slot.base.toString(16)}, GSI ${slot.gsi}`, details: dev.describe() });
  });
  return out;
}

/** Reports how a run or a step ended; returns the stop for a step's reply. */
function conclude(outcome: RunOutcome) {
  if (outcome.kind === 'stop-requested') shutdown();
  if (outcome.kind === 'ended') {
    Atomics.store(vmState, VM_ENDING, 1);
    post({ type: 'ended', end: outcome.end });
    shutdown();
  }
  return outcome.stop;
}

function reply(id: number, fn: () => unknown, withState = false): void {
  try {
    const result = fn();
    post({ type: 'reply', id, result, state: withState ? stateNow() : undefined });
  } catch (e) {
    post({ type: 'reply', id, error: (e as Error).message });
  }
}

/** The registers at a stop, into the shared state buffer (undefined if the vCPU cannot say: the reader asks again). */
function stateNow(): StateAtStop | undefined {
  try { vcpu!.readState(stateView); return true; } catch { return undefined; }
}

/** A range step: like a step, a pause meant for an earlier run is dropped first. */
function rangeStep(cmd: Extract<Command, { type: 'rangeStep' }>) {
  return runner.startStep() ?? ranges.step(cmd);
}

port.on('message', (cmd: Command) => {
  // (No lane in the host probe's worker: it takes no commands.)
  lane?.noteMessage();
  onCommand(cmd);
  // Steps come in bursts: wait for the next one on the lane (one asked after this message may wait already).
  if (lane && (cmd.type === 'step' || cmd.type === 'rangeStep' || lane.pending)) lane.serve();
});

function onCommand(cmd: Command): void {
  const v = vcpu!;
  switch (cmd.type) {
    case 'continue': {
      const stop = conclude(runner.run());
      const state = stateNow();
      post({ type: 'stopped', stop, rip: state ? new BigUint64Array(init.state, 0, 18)[RIP_WORD] : v.getRegs().rip, state });
      break;
    }
    case 'step': reply(cmd.id, () => conclude(runner.step()), true); break;
    case 'rangeStep': reply(cmd.id, () => conclude(rangeStep(cmd)), true); break;
    case 'getRegs': reply(cmd.id, () => v.getRegs()); break;
    case 'getSregs': reply(cmd.id, () => v.getSregs()); break;
    case 'setRegs': reply(cmd.id, () => { runner.stateChanged(); v.setRegs({ ...v.getRegs(), ...cmd.regs }); }); break;
    case 'setSregs': reply(cmd.id, () => { runner.stateChanged(); checkEnterable({ ...v.getSregs(), ...cmd.sregs }); v.setSregs(cmd.sregs); }); break;
    case 'getFpu': reply(cmd.id, () => v.getFpu()); break;
    case 'setFpu': reply(cmd.id, () => { runner.stateChanged(); v.setFpu(cmd.fpu); }); break;
    case 'getMsrs': reply(cmd.id, () => v.getMsrs(cmd.indices)); break;
    case 'setGuestDebug': reply(cmd.id, () => runner.setGuestDebug(cmd.debug)); break;
    case 'armHardware': reply(cmd.id, () => runner.debug.arm(cmd.requests, cmd.mechanisms)); break;
    case 'setExitBreakpoints': reply(cmd.id, () => { runner.setExitBreakpoints(cmd.spec); (msrFilter ??= new VmExitControls(vm!)).apply(cmd.spec); }); break;
    case 'setStepIntoInterrupts': reply(cmd.id, () => runner.debug.setStepIntoInterrupts(cmd.into)); break;
    case 'translate': reply(cmd.id, () => v.translate(cmd.gva)); break;
    case 'runStats': reply(cmd.id, () => v.runStats()); break;
    case 'setTiming': reply(cmd.id, () => v.setTiming(cmd.on, true)); break;
    case 'devices': reply(cmd.id, () => { if (!board) throw new Error('the devices live on vCPU 0'); return devices(); }); break;
    case 'stop': shutdown();
  }
}

try {
  // The same script serves the host probe (host-probe.ts): one worker bundle to ship.
  if ((workerData as { probe?: boolean }).probe) runProbes(port, (workerData as { device: string }).device);
  else start();
} catch (e) {
  post({ type: 'initFailed', message: (e as Error).message });
  shutdown();
}
