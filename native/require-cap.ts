import { Cap } from './constants';
import { KvmError } from './errors';

/** Turns a KVM_CHECK_EXTENSION result of 0 into a sentence naming the capability. */
export function requireCap(value: number, cap: Cap, purpose?: string): number {
  if (value > 0) return value;
  const name = Cap[cap] ? `KVM_CAP_${Cap[cap]}` : `capability ${cap}`;
  throw new KvmError(
    `this host's KVM lacks ${name}${purpose ? `, needed for ${purpose}` : ''} (a newer host kernel may have it)`,
    'KVM_CHECK_EXTENSION', 0,
  );
}
