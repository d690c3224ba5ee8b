/**
 * The adapter's side of the Guest Screen: kvm/screen answers with the
 * current picture (also while the guest is stopped at a breakpoint: the
 * screen is shared memory, read without the vCPU thread), and while the
 * extension watches, a timer sends a kvm/screen event for each changed
 * frame, at most maxFps a second. A frame costs nothing when nothing
 * changed: the registers' generation and a hash of the text window or the
 * framebuffer lines decide before anything is drawn or encoded.
 * kvm/keyboard types into the guest's PS/2 keyboard.
 */
import type { Machine } from '../vmm/machine/machine';
import { captureScreen, screenFingerprint } from '../vmm/screen/screen';
import { encodePng } from '../vmm/screen/png';
import { textLines } from '../vmm/screen/text-mode';
import { typeText, type KeyEvent } from '../vmm/devices/scancodes';
import type { VcpuControl } from './vcpu';
import type { KeyboardArgs, KvmEvents, ScreenArgs, ScreenBody } from './protocol-extensions';

const SCREEN_REQUESTS = new Set(['kvm/screen', 'kvm/keyboard']);
const MAX_FPS = 30;
/** Keys one request may carry: a paste, not a flood. */
const MAX_KEYS = 4096;

export class ScreenRequests {
  private machine?: Machine;
  private vcpu?: VcpuControl;
  private timer?: NodeJS.Timeout;
  private lastFingerprint?: number;
  /** Whether the last tick saw the guest running (a stop gets one more look). */
  private wasRunning = false;

  constructor(private readonly send: (event: 'kvm/screen', body: KvmEvents['kvm/screen']) => void) {}

  attach(machine: Machine, vcpu: VcpuControl): void {
    this.machine = machine;
    this.vcpu = vcpu;
    machine.once('ended', () => this.stopWatching());
  }

  handles(command: string): boolean {
    return SCREEN_REQUESTS.has(command);
  }

  async handle(command: string, args: Record<string, unknown>): Promise<unknown> {
    const machine = this.machine;
    if (!machine) throw new Error('no VM is running (launch one first)');
    if (command === 'kvm/keyboard') return this.keyboard(machine, args as KeyboardArgs);
    const a = args as ScreenArgs;
    if (a.maxFps !== undefined && (typeof a.maxFps !== 'number' || !Number.isFinite(a.maxFps))) throw new Error('"maxFps" must be a number of frames a second (1 to 30)');
    if (a.watch === true) this.watch(Math.max(1, Math.min(MAX_FPS, a.maxFps ?? MAX_FPS)));
    else if (a.watch === false) this.stopWatching();
    return this.frame(machine);
  }

  private frame(machine: Machine): ScreenBody {
    this.lastFingerprint = screenFingerprint(machine.memory, machine.display);
    const c = captureScreen(machine.memory, machine.display);
    // Live frames are many: fast compression over small files.
    const png = encodePng(c.image, 1);
    return {
      png: png.toString('base64'), width: c.image.width, height: c.image.height, mode: c.mode, description: c.description, hash: this.lastFingerprint,
      ...(c.text ? { text: textLines(c.text) } : {}),
    };
  }

  private watch(fps: number): void {
    this.stopWatching();
    this.wasRunning = true;
    this.timer = setInterval(() => this.tick(), Math.round(1000 / fps));
    this.timer.unref();
  }

  private stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const machine = this.machine;
    if (!machine || machine.ended) return this.stopWatching();
    const running = this.vcpu?.state === 'running';
    // Stopped, the screen changes only through the debugger's own writes: one look after the stop, then none.
    if (!running && !this.wasRunning) return;
    this.wasRunning = running;
    if (screenFingerprint(machine.memory, machine.display) === this.lastFingerprint) return;
    this.send('kvm/screen', this.frame(machine));
  }

  private keyboard(machine: Machine, args: KeyboardArgs): undefined {
    let keys: KeyEvent[] = [];
    if (args.text !== undefined) {
      if (typeof args.text !== 'string') throw new Error('"text" must be a string');
      keys = typeText(args.text);
    }
    if (args.keys !== undefined) {
      if (!Array.isArray(args.keys)) throw new Error('"keys" must be an array of { code, down }');
      for (const k of args.keys) {
        if (typeof k !== 'object' || k === null || typeof k.code !== 'string' || typeof k.down !== 'boolean') {
          throw new Error('each key is { "code": "KeyA", "down": true } (code as KeyboardEvent.code names it)');
        }
        keys.push({ code: k.code, down: k.down });
      }
    }
    if (keys.length > MAX_KEYS) throw new Error(`${keys.length} key events in one request: at most ${MAX_KEYS}`);
    if (machine.ended) throw new Error(`the VM has ended: ${machine.ended.message}`);
    machine.sendKeys(keys);
    return undefined;
  }

  dispose(): void {
    this.stopWatching();
  }
}
