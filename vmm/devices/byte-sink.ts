/**
 * Where character devices (serial, debugcon) put guest output: one call per
 * byte, no allocation. The machine batches bytes into chunks for the
 * terminal; devices stay oblivious of that.
 */
export type ByteSink = (byte: number) => void;

export const discardBytes: ByteSink = () => {};
