/**
 * The Debug Adapter Protocol's wire format (Content-Length framed JSON) over
 * any pair of streams: a child's stdio or a socket to `--server=PORT`. Just
 * enough to ask a freshly started adapter one request and read its response.
 */
import type { Readable, Writable } from 'node:stream';

export interface DapResponse {
  type: 'response';
  request_seq: number;
  command: string;
  success: boolean;
  message?: string;
  body?: any;
}

export class DapWire {
  private buffer = Buffer.alloc(0);
  private seq = 1;
  private waiting = new Map<number, (r: DapResponse) => void>();

  constructor(private readonly input: Writable, output: Readable) {
    output.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())?.[1]);
      if (this.buffer.length < end + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString());
      this.buffer = this.buffer.subarray(end + 4 + length);
      if (message.type === 'response') this.waiting.get(message.request_seq)?.(message);
    }
  }

  /** Sends a request; its response, or a rejection naming the request after `timeoutMs`. */
  request(command: string, args: unknown, timeoutMs = 20_000): Promise<DapResponse> {
    const seq = this.seq++;
    const json = JSON.stringify({ seq, type: 'request', command, arguments: args });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response to DAP ${command} within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(seq, (r) => { clearTimeout(timer); this.waiting.delete(seq); resolve(r); });
      this.input.write(`Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`);
    });
  }
}

/** What VS Code sends first. */
export const INITIALIZE_ARGS = { clientID: 'vscode', adapterID: 'kvm', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' };
