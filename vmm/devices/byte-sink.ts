/**
 * Where character devices (serial, debugcon) put guest output: one call per
 * byte, no allocation. The machine batches bytes into chunks for the
 * terminal; devices stay oblivious of that. A sink may return false when
 * it had to drop the byte (its reader stalled): a device that writes many
 * bytes in one exit (the virtio console) then stops waiting on it.
 */
export type ByteSink = (byte: number) => boolean | void;

export const discardBytes: ByteSink = () => {};
