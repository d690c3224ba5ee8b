/** The loaded raw binding, with KvmError registered as the class its failures throw. */
import { loadBinding } from './load';
import { KvmError } from './errors';

export const binding = loadBinding();
binding.setErrorClass(KvmError);
