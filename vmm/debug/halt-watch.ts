/**
 * The HLT breakpoint's clock. With KVM's in-kernel LAPIC a halted vCPU
 * waits inside KVM_RUN and no KVM_EXIT_HLT ever comes (KVM_CAP_X86_DISABLE_EXITS
 * only lets HLT run natively, the opposite). So while the HLT breakpoint is
 * on and the vCPU runs, the main thread kicks it every `periodMs`: a kick
 * ends KVM_RUN even in HLT, and the vCPU thread asks KVM for its mp_state;
 * HALTED is a stop. A halt shorter than the period (an interrupt already on
 * its way) can be missed, which the filter's description says.
 */
export const HALT_POLL_MS = 20;

export class HaltWatch {
  private timer?: ReturnType<typeof setInterval>;
  private enabled = false;

  constructor(private readonly kick: () => void, readonly periodMs = HALT_POLL_MS) {}

  /** The HLT breakpoint was switched on or off (the vCPU is stopped then; resume starts the clock). */
  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.stopped();
  }

  /** The vCPU was resumed. */
  running(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(this.kick, this.periodMs);
    this.timer.unref?.();
  }

  /** The vCPU stopped or the VM ended. */
  stopped(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
