/**
 * One gdb connection: the RSP state machine over a GdbTarget and a byte
 * transport (all-stop mode). Feed received bytes to receive(); replies go
 * out through options.send. Packets are handled one at a time, in order;
 * a malformed packet gets an error reply (`E xx`) and the session goes on.
 *
 * The owner forwards the target's stop events to handleStop() (the server
 * subscribes once per target and routes to the current session) and calls
 * disconnected() when the transport closes (which detaches the target).
 */
import {
  DEFAULT_MAX_PACKET, PacketDecoder, encodePacket, fromHex, parseHex64, parseHexInt, toHex, unescapeBinary,
  type DecodedEvent,
} from './packets';
import {
  computeChanges, decodeAllRegisters, encodeAllRegisters, registerHex, registerLayout,
  type GdbArch, type RegisterChanges, type RegisterLayout, type RegisterState,
} from './registers';
import { featuresReply, Reply, stopReply } from './replies';
import type { BreakpointType, GdbStop, GdbTarget } from './target';

export { stopReply } from './replies';

export interface SessionOptions {
  /** Write bytes to gdb. */
  send(bytes: Uint8Array): void;
  /** The session is over (after D, k or vKill): close the connection once the pending output is written. */
  close?(): void;
  log?(message: string): void;
  /** PacketSize we advertise and the largest packet we accept (default DEFAULT_MAX_PACKET, 256 KiB). */
  packetSize?: number;
  /** Run-length encode replies (default true). */
  compress?: boolean;
  /**
   * The register layout and target description for the whole session
   * (default x86-64): i386 for 32-bit kernels. It never follows the vCPU's mode.
   */
  arch?: GdbArch;
}

type Action = 'continue' | 'step' | 'stop';
const MAX_U64 = (1n << 64n) - 1n;

export class GdbSession {
  private readonly decoder: PacketDecoder;
  private readonly packetSize: number;
  private readonly layout: RegisterLayout;
  private noAck = false;
  /** Waiting for the target to stop: the stop reply goes out when it does. */
  private running = false;
  private ended = false;
  private exited = false;
  private lastStop: GdbStop | undefined;
  /** Hg: the vCPU g/G/p/P/m/M/X act on (undefined = the current one). */
  private gVcpu: number | undefined;
  /** Hc: the vCPU legacy c/s act on (undefined = all/any). */
  private cVcpu: number | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lastSent: Uint8Array | undefined;
  private retransmits = 0;
  /** Breakpoints gdb inserted and has not removed, removed for it when it goes away. */
  private readonly breakpoints = new Map<string, { type: BreakpointType; address: bigint; kind: number }>();

  constructor(private readonly target: GdbTarget, private readonly options: SessionOptions) {
    this.packetSize = options.packetSize ?? DEFAULT_MAX_PACKET;
    this.layout = registerLayout(options.arch ?? 'x86-64');
    this.decoder = new PacketDecoder(this.packetSize);
  }

  /** Bytes from gdb, split anywhere. Never throws. */
  receive(chunk: Uint8Array): void {
    let events: DecodedEvent[];
    try { events = this.decoder.push(chunk); } catch (e) { this.log(`gdb: decoder failure: ${String(e)}`); return; }
    for (const ev of events) this.event(ev);
  }

  /** Resolves when every packet received so far has been answered (for tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  /** The target stopped (all-stop). Sends the stop reply if gdb is waiting for one. */
  handleStop(stop: GdbStop): void {
    this.lastStop = stop;
    if (!this.running || this.ended) return;
    this.running = false;
    this.gVcpu = undefined;
    this.sendPacket(stopReply(stop));
    // The VM is gone: nothing to detach from when gdb hangs up.
    if (stop.stop.kind === 'exited') this.exited = true;
  }

  /** The connection closed: leave the VM running, without our breakpoints. */
  disconnected(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.exited) return;
    this.chain = this.chain.then(async () => {
      await this.removeAllBreakpoints();
      this.target.detach();
    }).catch((e) => this.log(`gdb: detach after disconnect failed: ${String(e)}`));
  }

  get isEnded(): boolean { return this.ended; }

  get arch(): GdbArch { return this.layout.arch; }

  private log(message: string): void {
    this.options.log?.(message);
  }

  private event(ev: DecodedEvent): void {
    switch (ev.type) {
      case 'ack': this.retransmits = 0; return;
      case 'nak':
        if (!this.noAck && this.lastSent && this.retransmits++ < 5) this.options.send(this.lastSent);
        return;
      case 'interrupt':
        this.enqueue(async () => {
          if (this.running) this.target.interrupt();
        });
        return;
      case 'error':
        this.log(`gdb: ${ev.reason}`);
        if (ev.nak && !this.noAck) this.options.send(NAK);
        return;
      case 'packet':
        if (!this.noAck) this.options.send(ACK);
        this.enqueue(() => this.packet(ev.data));
        return;
    }
  }

  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch((e) => this.log(`gdb: internal error: ${e instanceof Error ? e.stack : String(e)}`));
  }

  private sendPacket(payload: string | Uint8Array): void {
    const bytes = encodePacket(payload, { compress: this.options.compress ?? true });
    this.lastSent = bytes;
    this.retransmits = 0;
    this.options.send(bytes);
  }

  private async packet(data: Uint8Array): Promise<void> {
    if (this.ended) return;
    const text = Buffer.from(data).toString('latin1');
    let reply: string | Uint8Array | undefined;
    try {
      reply = await this.dispatch(text, data);
    } catch (e) {
      if (e instanceof Reply) {
        this.log(`gdb: ${text.slice(0, 40)}: ${e.message}`);
        reply = 'E' + e.code.toString(16).padStart(2, '0');
      } else {
        this.log(`gdb: ${text.slice(0, 40)} failed: ${e instanceof Error ? e.message : String(e)}`);
        reply = 'E01';
      }
    }
    if (reply !== undefined) this.sendPacket(reply);
  }

  /** Returns the reply, or undefined when the reply comes later (a stop) or never (k). */
  private async dispatch(text: string, data: Uint8Array): Promise<string | Uint8Array | undefined> {
    switch (text[0]) {
      case '?': return this.question();
      case 'g': return encodeAllRegisters(await this.readState(this.regVcpu()), this.layout);
      case 'G': return this.writeAll(text.slice(1));
      case 'p': return this.readOne(text.slice(1));
      case 'P': return this.writeOne(text.slice(1));
      case 'm': return this.readMem(text.slice(1));
      case 'M': return this.writeMemHex(text.slice(1));
      case 'X': return this.writeMemBinary(data);
      case 'Z': case 'z': return this.breakpoint(text);
      case 'H': return this.setThread(text.slice(1));
      case 'T': return this.vcpuOf(text.slice(1)) !== undefined ? 'OK' : 'E01';
      case 'c': case 's': case 'C': case 'S': return this.legacyResume(text);
      case 'D': return this.detach();
      case 'k': this.kill(); return undefined;
      case 'v': return this.vPacket(text);
      case 'q': case 'Q': return this.query(text);
      default: return '';
    }
  }

  // ---- stop state and threads ----

  private question(): string | undefined {
    const stop = this.lastStop ?? this.target.currentStop?.();
    if (stop) {
      this.lastStop = stop;
      return stopReply(stop);
    }
    // Attached to a running machine: stop it; the reply is the stop.
    this.running = true;
    this.target.interrupt();
    return undefined;
  }

  /** The vCPU of a thread id ("1" = vCPU 0), undefined if there is none. */
  private vcpuOf(id: string): number | undefined {
    const n = parseHexInt(id);
    if (n === undefined || n === 0) return undefined;
    return this.target.vcpus().includes(n - 1) ? n - 1 : undefined;
  }

  private currentVcpu(): number {
    const all = this.target.vcpus();
    const stopped = this.lastStop?.vcpu;
    if (stopped !== undefined && all.includes(stopped)) return stopped;
    if (all.length === 0) throw new Reply(1, 'the machine has no vCPUs');
    return all[0];
  }

  private regVcpu(): number {
    return this.gVcpu ?? this.currentVcpu();
  }

  private setThread(arg: string): string {
    const op = arg[0];
    const id = arg.slice(1);
    if (op !== 'g' && op !== 'c') return '';
    let vcpu: number | undefined;
    if (id === '-1' || id === '0') vcpu = undefined;
    else {
      vcpu = this.vcpuOf(id);
      if (vcpu === undefined) throw new Reply(1, `no thread ${id}`);
    }
    if (op === 'g') this.gVcpu = vcpu; else this.cVcpu = vcpu;
    return 'OK';
  }

  // ---- registers ----

  private async readState(vcpu: number): Promise<RegisterState> {
    // Both at once: each is a round trip to the vCPU's thread.
    const [r, fpu] = await Promise.all([this.target.readRegisters(vcpu), this.target.readFpu?.(vcpu)]);
    return { ...r, fpu };
  }

  private async applyChanges(vcpu: number, ch: RegisterChanges): Promise<void> {
    if (Object.keys(ch.regs).length > 0 || Object.keys(ch.sregs).length > 0) {
      await this.target.writeRegisters(vcpu, ch.regs, Object.keys(ch.sregs).length > 0 ? ch.sregs : undefined);
    }
    if (ch.fpu) {
      if (!this.target.writeFpu) throw new Reply(1, 'the target cannot write x87/SSE registers');
      await this.target.writeFpu(vcpu, ch.fpu);
    }
    if (ch.kernelGsBase !== undefined) {
      if (!this.target.writeKernelGsBase) throw new Reply(1, 'k_gs_base is read-only here');
      await this.target.writeKernelGsBase(vcpu, ch.kernelGsBase);
    }
  }

  private async writeAll(hex: string): Promise<string> {
    const values = decodeAllRegisters(hex, this.layout);
    if (!values) throw new Reply(1, 'malformed register data');
    const vcpu = this.regVcpu();
    const ch = computeChanges(await this.readState(vcpu), values, this.layout);
    // gdb rewrites every register; values it cannot have read (no FPU access) are ignored.
    if (!this.target.writeFpu) delete ch.fpu;
    await this.applyChanges(vcpu, ch);
    return 'OK';
  }

  private async readOne(arg: string): Promise<string> {
    const n = parseHexInt(arg);
    const def = n === undefined ? undefined : this.layout.registers[n];
    if (!def) throw new Reply(0x16, `no register ${arg}`);
    return registerHex(await this.readState(this.regVcpu()), def);
  }

  private async writeOne(arg: string): Promise<string> {
    const eq = arg.indexOf('=');
    const n = eq > 0 ? parseHexInt(arg.slice(0, eq)) : undefined;
    const def = n === undefined ? undefined : this.layout.registers[n];
    if (!def) throw new Reply(0x16, `no register ${arg.slice(0, eq)}`);
    const bytes = fromHex(arg.slice(eq + 1));
    if (!bytes || bytes.length !== def.bits / 8) throw new Reply(0x16, `${def.name} takes ${def.bits / 8} bytes`);
    const vcpu = this.regVcpu();
    const ch = computeChanges(await this.readState(vcpu), new Map([[def.regnum, bytes]]), this.layout);
    if (ch.readOnly.length > 0) throw new Reply(1, `${ch.readOnly.join(', ')} cannot be written`);
    await this.applyChanges(vcpu, ch);
    return 'OK';
  }

  // ---- memory ----

  /** "addr,len" -> numbers; len clamped so the range does not pass 2^64. */
  private addressRange(s: string): { address: bigint; length: number } {
    const comma = s.indexOf(',');
    if (comma < 0) throw new Reply(1, 'expected addr,length');
    const address = parseHex64(s.slice(0, comma));
    const length = parseHexInt(s.slice(comma + 1));
    if (address === undefined || length === undefined) throw new Reply(1, 'malformed address or length');
    const room = MAX_U64 - address + 1n;
    return { address, length: BigInt(length) > room ? Number(room) : length };
  }

  private async readMem(arg: string): Promise<string> {
    const { address, length } = this.addressRange(arg);
    // The reply is hex: at most half a packet of data (gdb accepts a shorter read).
    const len = Math.min(length, Math.floor(this.packetSize / 2));
    if (len === 0) return '';
    const r = await this.target.readMemory(this.regVcpu(), address, len);
    const n = Math.max(0, Math.min(r.readable, r.data.length, len));
    if (n === 0) return 'E14';
    return toHex(r.data.subarray(0, n));
  }

  private async writeMem(address: bigint, length: number, data: Uint8Array | undefined): Promise<string> {
    if (!data || data.length !== length) throw new Reply(1, 'data does not match the length');
    if (length === 0) return 'OK';
    const written = await this.target.writeMemory(this.regVcpu(), address, data);
    return written >= length ? 'OK' : 'E14';
  }

  private writeMemHex(arg: string): Promise<string> {
    const colon = arg.indexOf(':');
    if (colon < 0) throw new Reply(1, 'expected addr,length:data');
    const { address, length } = this.addressRange(arg.slice(0, colon));
    return this.writeMem(address, length, fromHex(arg.slice(colon + 1)));
  }

  private writeMemBinary(data: Uint8Array): Promise<string> {
    const colon = data.indexOf(0x3a);
    if (colon < 0) throw new Reply(1, 'expected addr,length:data');
    const { address, length } = this.addressRange(Buffer.from(data.subarray(1, colon)).toString('latin1'));
    return this.writeMem(address, length, unescapeBinary(data.subarray(colon + 1)));
  }

  // ---- breakpoints ----

  private async breakpoint(text: string): Promise<string> {
    const insert = text[0] === 'Z';
    const fields = text.slice(1).split(';')[0].split(',');
    if (fields.length !== 3) throw new Reply(1, 'expected type,addr,kind');
    const type = Number(fields[0]);
    const address = parseHex64(fields[1]);
    const kind = parseHexInt(fields[2]);
    if (!/^[0-4]$/.test(fields[0]) || address === undefined || kind === undefined) throw new Reply(1, 'malformed breakpoint');
    const t = type as BreakpointType;
    const key = `${t}:${address}:${kind}`;
    const result = insert ? await this.target.insertBreakpoint(t, address, kind) : await this.target.removeBreakpoint(t, address, kind);
    if (result === 'unsupported') return '';
    if (result === 'error') return 'E01';
    if (insert) this.breakpoints.set(key, { type: t, address, kind });
    else this.breakpoints.delete(key);
    return 'OK';
  }

  private async removeAllBreakpoints(): Promise<void> {
    for (const b of [...this.breakpoints.values()]) {
      try { await this.target.removeBreakpoint(b.type, b.address, b.kind); } catch (e) { this.log(`gdb: removing a breakpoint failed: ${String(e)}`); }
    }
    this.breakpoints.clear();
  }

  // ---- execution ----

  private resume(actions: Map<number, Action>): string | undefined {
    const moving = [...actions.values()].some((a) => a !== 'stop');
    if (!moving) return stopReply(this.lastStop ?? { vcpu: this.currentVcpu(), stop: { kind: 'signal', signal: 0 } });
    this.running = true;
    this.target.resume(actions);
    return undefined;
  }

  /** c/s/C/S [sig;][addr]: continue all, or step the Hc vCPU. */
  private async legacyResume(text: string): Promise<string | undefined> {
    const op = text[0];
    let arg = text.slice(1);
    if (op === 'C' || op === 'S') {
      const semi = arg.indexOf(';');
      const sig = semi < 0 ? arg : arg.slice(0, semi);
      if (parseHexInt(sig) === undefined) throw new Reply(1, 'malformed signal');
      arg = semi < 0 ? '' : arg.slice(semi + 1);
    }
    const vcpu = this.cVcpu ?? this.currentVcpu();
    if (arg.length > 0) {
      const rip = parseHex64(arg);
      if (rip === undefined) throw new Reply(1, 'malformed address');
      await this.target.writeRegisters(vcpu, { rip });
    }
    const actions = new Map<number, Action>();
    if (op === 'c' || op === 'C') for (const v of this.target.vcpus()) actions.set(v, 'continue');
    else actions.set(vcpu, 'step');
    return this.resume(actions);
  }

  private vCont(spec: string): string | undefined {
    const actions = new Map<number, Action>();
    const all = this.target.vcpus();
    for (const part of spec.split(';').slice(1)) {
      const colon = part.indexOf(':');
      const act = colon < 0 ? part : part.slice(0, colon);
      const id = colon < 0 ? '-1' : part.slice(colon + 1);
      let action: Action;
      if (act === 'c' || /^C[0-9a-fA-F]{1,2}$/.test(act)) action = 'continue';
      else if (act === 's' || /^S[0-9a-fA-F]{1,2}$/.test(act)) action = 'step';
      else if (act === 't') action = 'stop';
      else throw new Reply(1, `unsupported vCont action ${act}`);
      let targets: number[];
      if (id === '-1' || id === '0') targets = all;
      else {
        const v = this.vcpuOf(id);
        if (v === undefined) throw new Reply(1, `no thread ${id}`);
        targets = [v];
      }
      // The leftmost action that names a thread applies to it.
      for (const v of targets) if (!actions.has(v)) actions.set(v, action);
    }
    if (actions.size === 0) throw new Reply(1, 'vCont without actions');
    return this.resume(actions);
  }

  private async detach(): Promise<undefined> {
    this.ended = true;
    await this.removeAllBreakpoints();
    this.target.detach();
    this.sendPacket('OK');
    this.options.close?.();
    return undefined;
  }

  private kill(): void {
    this.ended = true;
    this.breakpoints.clear();
    this.target.kill();
    this.options.close?.();
  }

  // ---- v and q packets ----

  private vPacket(text: string): string | undefined {
    if (text === 'vCont?') return 'vCont;c;C;s;S;t';
    if (text.startsWith('vCont;')) return this.vCont(text);
    if (text === 'vMustReplyEmpty') return '';
    if (text.startsWith('vKill')) {
      this.sendPacket('OK');
      this.kill();
      return undefined;
    }
    return '';
  }

  private async query(text: string): Promise<string | Uint8Array | undefined> {
    const name = text.split(/[:,;]/)[0];
    switch (name) {
      case 'qSupported':
        return `PacketSize=${this.packetSize.toString(16)};qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+`;
      case 'QStartNoAckMode':
        this.sendPacket('OK');
        this.noAck = true;
        return undefined;
      case 'qfThreadInfo': return 'm' + this.target.vcpus().map((v) => (v + 1).toString(16)).join(',');
      case 'qsThreadInfo': return 'l';
      case 'qC': return 'QC' + (this.regVcpu() + 1).toString(16);
      case 'qAttached': return '1';
      case 'qSymbol': return 'OK';
      case 'qThreadExtraInfo': {
        const v = this.vcpuOf(text.slice('qThreadExtraInfo,'.length));
        if (v === undefined) throw new Reply(1, 'no such thread');
        return toHex(Buffer.from(this.target.threadInfo?.(v) ?? `vCPU ${v}`));
      }
      case 'qXfer': return featuresReply(text, this.packetSize, this.layout.arch);
      case 'qRcmd': return this.rcmd(text.slice('qRcmd,'.length));
      default: return '';
    }
  }

  private async rcmd(hex: string): Promise<string> {
    const cmd = fromHex(hex);
    if (!cmd) throw new Reply(1, 'malformed monitor command');
    let output: string;
    try {
      output = await this.target.monitor(Buffer.from(cmd).toString('utf8'));
    } catch (e) {
      output = `error: ${e instanceof Error ? e.message : String(e)}\n`;
    }
    const bytes = Buffer.from(output, 'utf8');
    // Console text in pieces of at most 4 KiB (gdb prints each as it comes).
    const chunk = Math.max(64, Math.min(4096, Math.floor(this.packetSize / 2) - 16));
    for (let i = 0; i < bytes.length; i += chunk) this.sendPacket('O' + toHex(bytes.subarray(i, i + chunk)));
    return 'OK';
  }
}

const ACK = Uint8Array.of(0x2b);
const NAK = Uint8Array.of(0x2d);
