/**
 * Reading the files a user points at (kernel, initrd, symbols): only those
 * paths, with one sentence for each way it can go wrong, never a trace.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostAdvice } from '../host/kvm-errors';

/** A file larger than this is certainly not something to put in guest RAM. */
export const MAX_USER_FILE = 4 * 1024 * 1024 * 1024;

export class UserFileError extends Error {
  constructor(message: string) { super(message); this.name = 'UserFileError'; }
}

export function readUserFile(path: string, what: string): Uint8Array {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new UserFileError(`the ${what} '${path}' is a directory, not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof UserFileError) throw e;
    throw new UserFileError(describe(e as NodeJS.ErrnoException, what, path));
  }
  if (size === 0) throw new UserFileError(`the ${what} '${path}' is empty`);
  if (size > MAX_USER_FILE) throw new UserFileError(`the ${what} '${path}' is ${size} bytes, too large to load`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserFileError(describe(e as NodeJS.ErrnoException, what, path));
  }
}

function describe(e: NodeJS.ErrnoException, what: string, path: string): string {
  switch (e.code) {
    case 'ENOENT': return `the ${what} '${path}' does not exist`;
    case 'EACCES': case 'EPERM': return `cannot read the ${what} '${path}': permission denied`;
    // Out of file descriptors is the host's limit, not the file's: the same advice as everywhere else.
    case 'EMFILE': case 'ENFILE': return hostAdvice(e.code, `reading the ${what} '${path}': ${e.code}`);
    default: return `cannot read the ${what} '${path}': ${e.message}`;
  }
}
