/**
 * A vCPU thread. It owns the KVM objects and the board's devices, runs
 * KVM_RUN and handles every exit itself; the main thread talks to it with
 * commands (protocol.ts), kicks it through the addon, and shares guest RAM,
 * the console rings, the control word and the exit counters.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Kvm, Vcpu, Vm } from '../../native';
import type { DeviceLog } from '../bus/device';
import { GuestMemory } from '../memory/guest-memory';
import { ExitStats } from './exit-stats';
import { SharedRing } from './shared-ring';
import { buildPcBoard } from './pc-board';
import { VcpuRunner, type RunOutcome } from './vcpu-runner';
import { createBootVcpu, createVm } from './vm-setup';
import { probeInt3 } from '../debug/int3-probe';
import type { Command, Event, WorkerInit } from './protocol';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (e: Event) => port.postMessage(e);

let kvm: Kvm | undefined;
let vm: Vm | undefined;
let vcpu: Vcpu | undefined;
let runner: VcpuRunner;

function shutdown(): never {
  try { vcpu?.close(); vm?.close(); kvm?.close(); } catch { /* the process is going anyway */ }
  process.exit(0);
}

function start(): void {
  const log: DeviceLog = {
    guestError: (message) => post({ type: 'log', level: 'guest-error', message }),
    info: (message) => post({ type: 'log', level: 'info', message }),
  };
  const consoleOut = new SharedRing(init.consoleOut);
  const consoleIn = new SharedRing(init.consoleIn);
  ({ kvm, vm } = createVm(init.memory.buffer, init.memory.regions));
  const theVm = vm;
  const board = buildPcBoard({
    ramBytes: init.options.memoryBytes,
    debugExit: init.options.debugExit,
    log,
    control: {
      exit: (status, reason) => runner.requestEnd({ status, message: reason, kind: status === 0 ? 'poweroff' : 'debug-exit' }),
      reset: (reason) => runner.requestEnd({ status: 0, message: reason, kind: 'reset' }),
    },
    irq: (line) => ({ set: (level) => theVm.irqLine(line, level) }),
    console: (byte) => { consoleOut.push(byte); },
    virtio: { slots: init.virtio, memory: new GuestMemory(init.memory.buffer, init.memory.regions) },
  });
  vcpu = createBootVcpu(kvm, vm, init.vcpuId, init.boot.cpu);
  runner = new VcpuRunner(vcpu, board.pio, board.mmio, new Int32Array(init.control), new ExitStats(init.stats), {
    pollInput: () => {
      const bytes = consoleIn.drain();
      if (bytes.length > 0) board.uart.receive(bytes);
    },
  });
  post({ type: 'ready', kickToken: vcpu.kickToken, int3: probeInt3(kvm) });
}

/** Reports how a run or a step ended; returns the stop for a step's reply. */
function conclude(outcome: RunOutcome) {
  if (outcome.kind === 'stop-requested') shutdown();
  if (outcome.kind === 'ended') {
    post({ type: 'ended', end: outcome.end });
    shutdown();
  }
  return outcome.stop;
}

function reply(id: number, fn: () => unknown): void {
  try {
    post({ type: 'reply', id, result: fn() });
  } catch (e) {
    post({ type: 'reply', id, error: (e as Error).message });
  }
}

port.on('message', (cmd: Command) => {
  const v = vcpu!;
  switch (cmd.type) {
    case 'continue': {
      const stop = conclude(runner.run());
      post({ type: 'stopped', stop, rip: v.getRegs().rip });
      break;
    }
    case 'step': reply(cmd.id, () => conclude(runner.step())); break;
    case 'getRegs': reply(cmd.id, () => v.getRegs()); break;
    case 'getSregs': reply(cmd.id, () => v.getSregs()); break;
    case 'setRegs': reply(cmd.id, () => v.setRegs({ ...v.getRegs(), ...cmd.regs })); break;
    case 'setSregs': reply(cmd.id, () => v.setSregs(cmd.sregs)); break;
    case 'getFpu': reply(cmd.id, () => v.getFpu()); break;
    case 'setFpu': reply(cmd.id, () => v.setFpu(cmd.fpu)); break;
    case 'getMsrs': reply(cmd.id, () => v.getMsrs(cmd.indices)); break;
    case 'setGuestDebug': reply(cmd.id, () => runner.setGuestDebug(cmd.debug)); break;
    case 'armHardware': reply(cmd.id, () => runner.debug.arm(cmd.requests)); break;
    case 'setExitBreakpoints': reply(cmd.id, () => runner.setExitBreakpoints(cmd.spec)); break;
    case 'translate': reply(cmd.id, () => v.translate(cmd.gva)); break;
    case 'runStats': reply(cmd.id, () => v.runStats()); break;
    case 'setTiming': reply(cmd.id, () => v.setTiming(cmd.on, true)); break;
    case 'stop': shutdown();
  }
});

try {
  start();
} catch (e) {
  post({ type: 'initFailed', message: (e as Error).message });
  shutdown();
}
