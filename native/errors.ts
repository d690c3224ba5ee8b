/** A failed KVM operation: which ioctl (or 'open'), its errno, and a sentence for people. */
export class KvmError extends Error {
  constructor(
    message: string,
    /** The ioctl that failed, e.g. 'KVM_CREATE_VM', or 'open' / 'mmap'. */
    readonly ioctl: string,
    /** The errno, 0 if the failure was not a system call's. */
    readonly errno: number,
    /** The errno's name, e.g. 'EBUSY'. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'KvmError';
  }
}
