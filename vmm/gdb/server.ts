/**
 * The GDB stub's TCP server: `gdb -ex 'target remote 127.0.0.1:1234'`.
 * Loopback unless another host is given explicitly. One client at a time: a
 * second one is told (as an `E.` error reply to its first packet, which gdb
 * prints as a warning) that a debugger is already attached, then closed.
 * When the client goes away the VM is detached and keeps running.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { GdbSession } from './session';
import { PacketDecoder, encodePacket } from './packets';
import type { GdbTarget } from './target';
import type { GdbArch } from './registers';

export interface GdbServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Resolve only once a debugger has connected (kvmdbg run --wait-gdb). */
  waitForClient?: boolean;
  log?: (message: string) => void;
  packetSize?: number;
  /** Register layout served to every debugger (default x86-64); see SessionOptions.arch. */
  arch?: GdbArch;
}

export interface GdbServer {
  address: string;
  port: number;
  /** Resolves when the first debugger connects. */
  clientConnected: Promise<void>;
  /** A debugger is connected now. */
  readonly attached: boolean;
  /** Stop listening and drop the client (which detaches: the VM keeps running). */
  close(): Promise<void>;
}

const BUSY_MESSAGE = 'a debugger is already attached to this kvmdbg VM; detach it first';

export async function startGdbServer(target: GdbTarget, options: GdbServerOptions): Promise<GdbServer> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  let current: { socket: Socket; session: GdbSession } | undefined;
  let connected!: () => void;
  const clientConnected = new Promise<void>((resolve) => { connected = resolve; });

  target.onStop((s) => current?.session.handleStop(s));

  const refuse = (socket: Socket) => {
    log(`gdb: refusing a connection from ${socket.remoteAddress}:${socket.remotePort}: a debugger is already attached`);
    // Answer gdb's first packet with a textual error it prints, then hang up.
    const decoder = new PacketDecoder(options.packetSize);
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('data', (chunk) => {
      if (decoder.push(chunk).some((e) => e.type === 'packet')) {
        clearTimeout(timer);
        socket.end(Buffer.concat([Buffer.from('+'), encodePacket(`E.${BUSY_MESSAGE}`)]));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => clearTimeout(timer));
  };

  const server = createServer((socket) => {
    if (current) { refuse(socket); return; }
    socket.setNoDelay(true);
    const session = new GdbSession(target, {
      send: (bytes) => { if (!socket.destroyed) socket.write(bytes); },
      close: () => socket.end(),
      log,
      packetSize: options.packetSize,
      arch: options.arch,
    });
    const client = { socket, session };
    current = client;
    log(`gdb: debugger connected from ${socket.remoteAddress}:${socket.remotePort}`);
    connected();
    socket.on('data', (chunk) => session.receive(chunk));
    socket.on('error', (e) => log(`gdb: connection error: ${e.message}`));
    socket.on('close', () => {
      if (current === client) current = undefined;
      if (!session.isEnded) log('gdb: debugger disconnected; the VM keeps running');
      session.disconnected();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', (e) => log(`gdb: server error: ${e.message}`));
  const addr = server.address() as AddressInfo;

  const result: GdbServer = {
    address: addr.address,
    port: addr.port,
    clientConnected,
    get attached() { return current !== undefined; },
    close: () => new Promise<void>((resolve) => {
      current?.socket.destroy();
      server.close(() => resolve());
    }),
  };
  if (options.waitForClient) {
    log(`gdb: waiting for a debugger on ${addr.address}:${addr.port} (gdb -ex 'target remote ${addr.address}:${addr.port}')`);
    await clientConnected;
  }
  return result;
}
