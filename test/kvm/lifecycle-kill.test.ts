// KVM tier: `kvmdbg run` SIGKILLed where it hurts most, with nothing lost.
//  - during a disk write: vqhammer64 `diskwrite` writes sectors 0-15 of a
//    --disk image, flushes, then rewrites sectors 16-31 forever; killed at a
//    random point of those writes, the flushed sectors are intact, the rest
//    of the image (32 on, and the tail) unchanged, the size unchanged, and the
//    image's directory holds only the image (no partial or temp file of ours);
//  - while stopped at a breakpoint (the GDB stub: a hardware breakpoint on
//    compute_checksum, hit) and while stopped waiting for gdb (--wait-gdb);
//  after each: no process or thread of it left (/proc), no temp files.
// (SIGKILL at random points of a boot and while the guest spins: lifecycle.test.ts;
// of the debug adapter: lifecycle-adapter.test.ts.)
// KVMDBG_KILL_SEEDS (default "1,2,3") chooses the random points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { BOOT_MS, hex, kernelPath, symbol, within } from './helpers/guests';
import { startCli } from './helpers/cli';
import { checkDiskAfterKill, DISKWRITE_READY, makeDiskImage, VQHAMMER } from './helpers/disk-kill';
import { descendants, newTempEntries, openFiles, tempEntries, waitGone } from './helpers/leaks';
import { rng } from '../unit/helpers/fuzz-budget';
import { seeds } from './helpers/soak-budget';

const KILL_SEEDS = seeds('KVMDBG_KILL_SEEDS', '1', '1,2,3');
async function killAndCheck(run: ReturnType<typeof startCli>, temps: Set<string>): Promise<void> {
  const pid = run.child.pid!;
  const kids = descendants(pid);
  run.child.kill('SIGKILL');
  const r = await within(run.done, 30_000, 'the killed kvmdbg to be reaped');
  assert.equal(r.signal, 'SIGKILL');
  assert.deepEqual(await waitGone([pid, ...kids]), [], 'no process or thread of it left');
  assert.deepEqual(descendants(pid), []);
  assert.deepEqual(newTempEntries(temps), [], 'no temp files left behind');
}

for (const seed of KILL_SEEDS) {
  test(`SIGKILL of \`kvmdbg run\` during the guest's disk writes (seed ${seed}): the flushed sectors are intact, nothing else changed, no partial file`, { timeout: 300_000 }, async () => {
    const { dir, disk } = makeDiskImage(`kill-disk-${seed}`);
    const temps = tempEntries();
    const run = startCli(['run', '--kernel', VQHAMMER, '--memory', '64M', '--disk', disk, '--cmdline', 'diskwrite'], { keepStdinOpen: true });
    await run.waitForStdout(DISKWRITE_READY, BOOT_MS);
    // Files are opened only where the user pointed: while the VM runs, the only files it holds are the
    // --disk image and the KVM device (the rest are pipes, sockets, KVM's anon inodes, /dev/null).
    const files = openFiles(run.child.pid!).filter((f) => f.startsWith('/'));
    const unexpected = files.filter((f) => f !== disk && !['/dev/kvm', '/dev/null', '/dev/urandom'].includes(f) && !/^\/dev\/pts\//.test(f));
    assert.deepEqual(unexpected, [], `kvmdbg holds files nobody named: ${JSON.stringify(files)}`);
    assert.ok(files.includes(disk), `the disk image is open: ${JSON.stringify(files)}`);
    const delay = Math.floor(rng(seed)() * 2000);
    await new Promise((r) => setTimeout(r, delay));
    await killAndCheck(run, temps);
    console.log(`disk-write SIGKILL after ${delay} ms: ${checkDiskAfterKill(dir, disk)}`);
    rmSync(dir, { recursive: true, force: true });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const port = (s.address() as { port: number }).port; s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

/** A minimal GDB remote client: sends packets, acks and collects replies. */
class Rsp {
  private buf = '';
  private waiters: ((p: string) => void)[] = [];
  private packets: string[] = [];
  private constructor(private readonly sock: ReturnType<typeof connect>) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let m = /\$([^#]*)#[0-9a-fA-F]{2}/.exec(this.buf); m; m = /\$([^#]*)#[0-9a-fA-F]{2}/.exec(this.buf)) {
        this.buf = this.buf.slice(m.index + m[0].length);
        sock.write('+');
        const w = this.waiters.shift();
        if (w) w(m[1]); else this.packets.push(m[1]);
      }
    });
  }
  static async open(port: number): Promise<Rsp> {
    const deadline = Date.now() + BOOT_MS;
    for (;;) {
      try {
        const sock = await new Promise<ReturnType<typeof connect>>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.on('error', reject);
        });
        return new Rsp(sock);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  send(p: string): Promise<string> {
    let sum = 0;
    for (const c of p) sum = (sum + c.charCodeAt(0)) & 0xff;
    this.sock.write(`$${p}#${sum.toString(16).padStart(2, '0')}`);
    const queued = this.packets.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return within(new Promise<string>((resolve) => this.waiters.push(resolve)), BOOT_MS, `a reply to ${p}`);
  }
  close(): void { this.sock.destroy(); }
}

for (const seed of KILL_SEEDS.slice(0, 2)) {
  test(`SIGKILL of \`kvmdbg run --gdb\` while stopped at a breakpoint (seed ${seed}): nothing left running, no temp files`, { timeout: 300_000 }, async () => {
    const port = await freePort();
    const temps = tempEntries();
    const run = startCli(['run', '--kernel', kernelPath('pvh64'), '--memory', '64M', '--gdb', `127.0.0.1:${port}`, '--wait-gdb'], { keepStdinOpen: true });
    const gdb = await Rsp.open(port);
    try {
      const addr = symbol('pvh64', 'compute_checksum');
      assert.equal(await gdb.send(`Z1,${addr.toString(16)},1`), 'OK');
      const stop = await gdb.send('c');
      assert.match(stop, /^T05/, `stopped on the breakpoint at ${hex(addr)}: ${stop}`);
      await new Promise((r) => setTimeout(r, Math.floor(rng(seed)() * 500)));
      await killAndCheck(run, temps);
      assert.match(run.stdout(), /fib\(20\) = 6765\n$/, 'the guest stopped before compute_checksum printed');
    } finally {
      gdb.close();
      run.child.kill('SIGKILL');
    }
  });
}

test('SIGKILL of `kvmdbg run --gdb --wait-gdb` while it waits for gdb: nothing left running, no temp files', { timeout: 300_000 }, async () => {
  const port = await freePort();
  const temps = tempEntries();
  const run = startCli(['run', '--kernel', kernelPath('pvh64'), '--memory', '64M', '--gdb', `127.0.0.1:${port}`, '--wait-gdb'], { keepStdinOpen: true });
  const gdb = await Rsp.open(port); // listening: the VM exists and is stopped at its entry
  try {
    assert.match(await gdb.send('?'), /^[ST]05/, 'stopped at the entry');
    await killAndCheck(run, temps);
  } finally {
    gdb.close();
  }
  assert.equal(run.stdout(), '', 'the guest never ran');
});
