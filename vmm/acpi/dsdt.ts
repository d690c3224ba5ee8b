/**
 * The DSDT:
 *   - \_S5, the sleep-type values Linux writes to PM1a_CNT to power off.
 *     Ours is 0 (vmm/devices/pm.ts, as QEMU's q35), so `poweroff` in the
 *     guest writes SLP_TYP=0|SLP_EN to port 0x604 and the VM ends.
 *   - \_SB.VRxx, one per virtio-mmio device: _HID "LNRO0005" (the id
 *     Linux's virtio_mmio driver matches), _UID, and a _CRS with the
 *     register window (Memory32Fixed) and its interrupt (a GSI, level,
 *     active high: the transport holds the line while InterruptStatus != 0).
 */
import { amlConcat, device, extendedInterrupt, integer, memory32Fixed, name, pkg, resourceTemplate, scope, string } from './aml';
import { finishSdt, sdt, SDT_HEADER_SIZE } from './sdt';
import { PM_SLP_TYP_S5 } from '../devices/pm';

/** Revision 2: AML integers are 64-bit. */
export const DSDT_REVISION = 2;
export const VIRTIO_MMIO_HID = 'LNRO0005';

/** A virtio-mmio device as ACPI describes it. */
export interface AcpiVirtioDevice {
  base: number;
  size: number;
  gsi: number;
}

/** "VR00".."VRFF" */
export function virtioDeviceName(i: number): string {
  return 'VR' + i.toString(16).toUpperCase().padStart(2, '0');
}

export function dsdtAml(virtio: readonly AcpiVirtioDevice[] = []): Uint8Array {
  if (virtio.length > 256) throw new RangeError('at most 256 virtio-mmio devices');
  // \_S5: Package { PM1a SLP_TYP, PM1b SLP_TYP, reserved, reserved }
  const terms = [name('_S5', pkg([integer(PM_SLP_TYP_S5), integer(PM_SLP_TYP_S5), integer(0), integer(0)]))];
  if (virtio.length > 0) {
    terms.push(scope('\\_SB', virtio.map((d, i) => device(virtioDeviceName(i), [
      name('_HID', string(VIRTIO_MMIO_HID)),
      name('_UID', integer(i)),
      name('_CRS', resourceTemplate([
        memory32Fixed(d.base, d.size),
        extendedInterrupt([d.gsi], { level: true, activeHigh: true }),
      ])),
    ]))));
  }
  return amlConcat(terms);
}

export function buildDsdt(virtio: readonly AcpiVirtioDevice[] = []): Uint8Array {
  const aml = dsdtAml(virtio);
  const w = sdt('DSDT', SDT_HEADER_SIZE + aml.length, DSDT_REVISION);
  w.set(SDT_HEADER_SIZE, aml);
  return finishSdt(w);
}
