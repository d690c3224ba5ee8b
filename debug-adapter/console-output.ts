/**
 * Guest console bytes -> DAP 'output' events, batched: bytes collect until
 * a short timer fires or a batch is full, so a chatty guest costs a few
 * events a second, never one a byte. UTF-8 split across batches is kept whole.
 */
export interface BatcherOptions {
  /** Flush this long after the first pending byte (ms). */
  delayMs?: number;
  /** Flush at once when this many bytes are pending. */
  maxBytes?: number;
  /** Also gets each batch as raw bytes (kvm/console), just before its text. */
  bytes?: (bytes: Uint8Array) => void;
}

export class ConsoleBatcher {
  private pending: Uint8Array[] = [];
  private size = 0;
  private timer?: NodeJS.Timeout;
  private readonly decoder = new TextDecoder('utf-8');
  private readonly delayMs: number;
  private readonly maxBytes: number;
  private readonly bytes?: (bytes: Uint8Array) => void;

  constructor(private readonly emit: (text: string) => void, options: BatcherOptions = {}) {
    this.delayMs = options.delayMs ?? 30;
    this.maxBytes = options.maxBytes ?? 16 * 1024;
    this.bytes = options.bytes;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes.slice());
    this.size += bytes.length;
    if (this.size >= this.maxBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.delayMs);
  }

  /** Sends what is pending now (before a stop or the end, so output precedes them). */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    if (this.size === 0) return;
    const all = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.pending) { all.set(p, at); at += p.length; }
    this.pending = [];
    this.size = 0;
    this.bytes?.(all);
    const text = this.decoder.decode(all, { stream: true });
    if (text.length > 0) this.emit(text);
  }

  dispose(): void {
    this.flush();
    const rest = this.decoder.decode();
    if (rest.length > 0) this.emit(rest);
  }
}
