/** The first steps every loader takes before it reads the kernel. */
import { writeGdt } from './cpu';
import { BootStrings, checkBootArea } from './layout';
import { GuestMemory } from '../memory/guest-memory';
import { MemoryMapEntry, pcMemoryMap } from '../memory/memory-map';

export interface BootContext {
  map: MemoryMapEntry[];
  strings: BootStrings;
}

export function prepareBoot(kernelPath: string, memory: GuestMemory): BootContext {
  checkBootArea(kernelPath, memory);
  writeGdt(memory);
  return { map: pcMemoryMap(memory), strings: new BootStrings(memory) };
}
