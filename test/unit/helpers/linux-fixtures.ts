// A fake kernel for the Linux readers (debug-adapter/linux/): the types of
// 6.1 x86-64 as its DWARF describes them (members by name, the offsets
// pahole shows, made smaller where the size does not matter), laid out in
// a FakeMemory, with the globals the readers look up.
import type { RecordType, VariableInfo } from '../../../debug-adapter/dwarf/model';
import type { ExprContext } from '../../../debug-adapter/expr';
import { Kernel } from '../../../debug-adapter/linux/kernel';
import { array, at, base, FakeMemory, fakeDebug, fakeFrame, ptr, struct, T, typedef, variable } from './c-fixtures';

const u8 = typedef('u8', base('unsigned char', 1, 'unsigned-char'));
const u16 = typedef('u16', base('short unsigned int', 2, 'unsigned'));
const u32 = typedef('u32', T.uint);
const u64 = typedef('u64', base('long long unsigned int', 8, 'unsigned'));
export const atomicLong = typedef('atomic_long_t', struct(undefined, 8, [['counter', T.long, 0]]));

// ---------------------------------------------------------------- printk ring buffer

export const lpos = struct('prb_data_blk_lpos', 16, [['begin', T.ulong, 0], ['next', T.ulong, 8]]);
export const prbDesc = struct('prb_desc', 24, [['state_var', atomicLong, 0], ['text_blk_lpos', lpos, 8]]);
export const printkInfo = struct('printk_info', 24, [
  ['seq', u64, 0], ['ts_nsec', u64, 8], ['text_len', u16, 16], ['facility', u8, 18], ['flags', u8, 19, 5, 0], ['level', u8, 19, 3, 5], ['caller_id', u32, 20],
]);
export const descRing = struct('prb_desc_ring', 48, [
  ['count_bits', T.uint, 0], ['descs', ptr(prbDesc), 8], ['infos', ptr(printkInfo), 16], ['head_id', atomicLong, 24], ['tail_id', atomicLong, 32], ['last_finalized_id', atomicLong, 40],
]);
export const dataRing = struct('prb_data_ring', 32, [['size_bits', T.uint, 0], ['data', ptr(T.char), 8], ['head_lpos', atomicLong, 16], ['tail_lpos', atomicLong, 24]]);
export const ringBuffer = struct('printk_ringbuffer', 88, [['desc_ring', descRing, 0], ['text_data_ring', dataRing, 48], ['fail', atomicLong, 80]]);

export const PRB_PTR = 0xffffffff82a00000n;
export const RB = 0xffffffff82a00100n;
export const DESCS = 0xffffffff82a01000n;
export const INFOS = 0xffffffff82a02000n;
export const TEXT = 0xffffffff82a03000n;

const ID_MASK = (1n << 62n) - 1n;
const STATE_FINALIZED = 2n;
const STATE_REUSABLE = 3n;

export interface RingRecord { text: string; tsNsec: bigint; level: number; facility?: number; callerId?: number; state?: 'finalized' | 'reusable' | 'reserved' }

/**
 * Writes records into a ring of 2^countBits descriptors and 2^sizeBits
 * bytes of text as the kernel's data_alloc places them: the first at
 * BLK0_LPOS (one ring below 2^64), each block id + text aligned to 8, a
 * block that would cross the ring's end stored whole at its start.
 */
export function writeRing(mem: FakeMemory, records: RingRecord[], o: { countBits: number; sizeBits: number; firstId?: bigint; firstSeq?: number }): void {
  const count = 1n << BigInt(o.countBits);
  const size = 1n << BigInt(o.sizeBits);
  mem.map(PRB_PTR, 8).u64(PRB_PTR, RB);
  mem.map(RB, 88).map(DESCS, Number(count) * 24).map(INFOS, Number(count) * 24).map(TEXT, Number(size));
  const firstId = o.firstId ?? 100n;
  let lposNow = (1n << 64n) - size;
  const wraps = (l: bigint): bigint => BigInt.asUintN(64, l) / size;
  records.forEach((r, i) => {
    const id = (firstId + BigInt(i)) & ID_MASK;
    const index = id & (count - 1n);
    const text = Buffer.from(r.text, 'utf8');
    const blockSize = (8n + BigInt(text.length) + 7n) & ~7n;
    let begin = lposNow;
    let next = BigInt.asUintN(64, begin + blockSize);
    let dataAt = begin & (size - 1n);
    if (wraps(begin) !== wraps(next - 1n)) {
      // The kernel's get_next_lpos: a wrapping block is stored at the start of the next wrap.
      next = BigInt.asUintN(64, (wraps(next) * size) + blockSize);
      dataAt = 0n;
    }
    begin = BigInt.asUintN(64, begin);
    lposNow = next;
    mem.u64(TEXT + dataAt, id);
    mem.write(TEXT + dataAt + 8n, text);
    const state = r.state === 'reusable' ? STATE_REUSABLE : r.state === 'reserved' ? 0n : STATE_FINALIZED;
    const desc = DESCS + index * 24n;
    mem.u64(desc, (state << 62n) | id).u64(desc + 8n, begin).u64(desc + 16n, next);
    const info = INFOS + index * 24n;
    mem.u64(info, BigInt((o.firstSeq ?? 0) + i)).u64(info + 8n, r.tsNsec).int(info + 16n, 2, text.length)
      .int(info + 18n, 1, r.facility ?? 0).int(info + 19n, 1, (r.level & 7) << 5).u32(info + 20n, r.callerId ?? 0);
  });
  const lastId = (firstId + BigInt(records.length - 1)) & ID_MASK;
  const tailId = records.length > Number(count) ? (lastId - count + 1n) & ID_MASK : firstId;
  mem.u32(RB, o.countBits).u64(RB + 8n, DESCS).u64(RB + 16n, INFOS).u64(RB + 24n, lastId).u64(RB + 32n, tailId);
  mem.u32(RB + 48n, o.sizeBits).u64(RB + 56n, TEXT);
}

export const prbGlobals = (): VariableInfo[] => [variable('prb', ptr(ringBuffer), at(PRB_PTR))];

// ---------------------------------------------------------------- tasks

export const listHead: RecordType = struct('list_head', 16, () => [['next', ptr(listHead), 0], ['prev', ptr(listHead), 8]]);
export const signalStruct = struct('signal_struct', 32, [['nr_threads', T.int, 0], ['thread_head', listHead, 8]]);
export const threadInfo = struct('thread_info', 24, [['flags', T.ulong, 0], ['syscall_work', T.ulong, 8], ['status', u32, 16], ['cpu', u32, 20]]);
export const threadStruct = struct('thread_struct', 64, [['tls_array', array(T.ulong, 3), 0], ['sp', T.ulong, 24]]);
export const inactiveFrame = struct('inactive_task_frame', 56, [
  ['r15', T.ulong, 0], ['r14', T.ulong, 8], ['r13', T.ulong, 16], ['r12', T.ulong, 24], ['bx', T.ulong, 32], ['bp', T.ulong, 40], ['ret_addr', T.ulong, 48],
]);
export const taskStruct: RecordType = struct('task_struct', 256, () => [
  ['thread_info', threadInfo, 0], ['__state', T.uint, 24], ['stack', ptr(T.void), 32], ['tasks', listHead, 40], ['exit_state', T.int, 56],
  ['pid', T.int, 60], ['tgid', T.int, 64], ['thread_node', listHead, 72], ['comm', array(T.char, 16), 88], ['signal', ptr(signalStruct), 104],
  ['thread', threadStruct, 128],
]);

export const INIT_TASK = 0xffffffff82c00000n;
export const OFFSETS = 0xffffffff82d00000n;
export const CURRENT_TASK = 0x1fdc0n;
export const PERCPU0 = 0xffff88807fc00000n;
export const PERCPU1 = 0xffff88807fd00000n;
export const taskAt = (n: number): bigint => 0xffff888001000000n + BigInt(n) * 0x1000n;

export interface FakeTask { pid: number; tgid?: number; comm: string; state?: number; exitState?: number; cpu?: number; address?: bigint; threads?: FakeTask[] }

/** init_task (pid 0) and `leaders` on init_task.tasks, each leader's threads on its signal->thread_head; cpu 0 runs `running[0]`, cpu 1 `running[1]`. */
export function writeTasks(mem: FakeMemory, leaders: FakeTask[], running: [number, number] = [0, 0]): Map<number, bigint> {
  const byPid = new Map<number, bigint>();
  const put = (t: FakeTask, address: bigint): void => {
    mem.map(address, 256).u32(address + 24n, t.state ?? 1).u32(address + 56n, t.exitState ?? 0).u32(address + 60n, t.pid).u32(address + 64n, t.tgid ?? t.pid)
      .str(address + 88n, t.comm).u32(address + 20n, t.cpu ?? 0);
    byPid.set(t.pid, address);
  };
  const init: FakeTask = { pid: 0, comm: 'swapper/0', state: 0 };
  put(init, INIT_TASK);
  const all = [INIT_TASK];
  leaders.forEach((t) => { const a = t.address ?? taskAt(t.pid); put(t, a); all.push(a); });
  for (let i = 0; i < all.length; i++) {
    mem.u64(all[i] + 40n, all[(i + 1) % all.length] + 40n).u64(all[i] + 48n, all[(i + all.length - 1) % all.length] + 40n);
  }
  // Each task's signal_struct: thread_head -> the leader's thread_node -> its threads' -> head.
  [init, ...leaders].forEach((leader, i) => {
    const leaderAddress = all[i];
    const sig = 0xffff888002000000n + BigInt(i) * 0x100n;
    mem.map(sig, 32);
    const members = [leaderAddress];
    for (const th of leader.threads ?? []) { const a = th.address ?? taskAt(th.pid); put({ ...th, tgid: leader.pid }, a); members.push(a); }
    const nodes = [sig + 8n, ...members.map((m) => m + 72n)];
    for (let j = 0; j < nodes.length; j++) mem.u64(nodes[j], nodes[(j + 1) % nodes.length]);
    for (const m of members) mem.u64(m + 104n, sig);
  });
  mem.u64(OFFSETS, PERCPU0).u64(OFFSETS + 8n, PERCPU1);
  mem.u64(PERCPU0 + CURRENT_TASK, byPid.get(running[0]) ?? INIT_TASK).u64(PERCPU1 + CURRENT_TASK, byPid.get(running[1]) ?? INIT_TASK);
  return byPid;
}

export const taskGlobals = (): VariableInfo[] => [
  variable('init_task', taskStruct, at(INIT_TASK)),
  variable('__per_cpu_offset', array(T.ulong, 2), at(OFFSETS)),
  variable('current_task', ptr(taskStruct), at(CURRENT_TASK)),
];

export const linuxTypes = {
  'struct task_struct': taskStruct, 'struct list_head': listHead, 'struct inactive_task_frame': inactiveFrame,
  'struct printk_ringbuffer': ringBuffer,
};

export function kernelOf(mem: FakeMemory, globals: VariableInfo[], types: Record<string, RecordType> = linuxTypes): Kernel {
  const ctx: ExprContext = { frame: fakeFrame(mem), scopes: [], debug: fakeDebug({ globals, types }), linux: { cpu: 0 } };
  return new Kernel(ctx);
}
