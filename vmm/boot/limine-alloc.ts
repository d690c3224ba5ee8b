/**
 * Bootloader-reclaimable memory for a Limine boot: one page-aligned run of
 * guest RAM after the kernel and its modules, from which the page tables,
 * the GDT, the responses, the stacks and the AP parking code are taken.
 * Everything handed out is zeroed. The memory map reports the run as
 * BOOTLOADER_RECLAIMABLE once the last structure is placed (end()).
 */
import { BootError } from './boot-state';
import { memoryOption, size } from './format';
import { GuestMemory, PAGE_SIZE } from '../memory/guest-memory';

export class BootAllocator {
  private next: number;

  constructor(private readonly memory: GuestMemory, private readonly file: string, readonly start: number, private readonly limit: number) {
    this.next = start;
  }

  /** `bytes` zeroed bytes aligned to `align` (a power of two); `what` names them in the error. */
  alloc(bytes: number, what: string, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (!Number.isSafeInteger(bytes) || bytes < 0 || at + bytes > this.limit) {
      throw new BootError(this.file, `the Limine boot structures (${what}: ${size(Math.max(0, bytes))}) do not fit in guest RAM after the kernel and its modules; use --memory ${memoryOption((at + Math.max(0, bytes)) * 1.25)}`);
    }
    this.memory.fill(at, bytes);
    this.next = at + bytes;
    return at;
  }

  /** Whole zeroed pages. */
  pages(count: number, what: string): number {
    return this.alloc(count * PAGE_SIZE, what, PAGE_SIZE);
  }

  /** A NUL-terminated string (bytes as given, so any path or command line passes through). */
  string(s: string, what: string): number {
    const bytes = Buffer.from(s, 'utf8');
    const at = this.alloc(bytes.length + 1, what, 1);
    this.memory.write(at, bytes);
    return at;
  }

  /** Where the next allocation would start, rounded up to a page: the end of the reclaimable run. */
  end(): number {
    return Math.ceil(this.next / PAGE_SIZE) * PAGE_SIZE;
  }
}
