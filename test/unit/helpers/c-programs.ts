/**
 * Small C programs compiled at test time with the system's gcc (or clang)
 * into linked, static, freestanding executables: linked, so .debug_info's
 * cross-references are resolved (an ET_REL .o needs relocations applied),
 * and -nostdlib so nothing but the test's own code is described.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { objectFileFromElf, ObjectFile } from '../../../debug-adapter/symbols';
import { debugSectionsOf, openDebugData } from '../../../debug-adapter/dwarf';
import type { DebugData } from '../../../debug-adapter/dwarf/model';

const dir = mkdtempSync(join(tmpdir(), 'kvmdbg-cprog-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let count = 0;

export function hasCompiler(cc: string): boolean {
  return spawnSync(cc, ['--version'], { encoding: 'utf8' }).status === 0;
}

export interface Program {
  path: string;
  obj: ObjectFile;
  data: DebugData;
  /** A function's or variable's link-time address and size from the symbol table. */
  symbol(name: string): { address: bigint; size: bigint };
}

/** Compiles `sources` (file name -> text) with `flags`; throws with the compiler's output when it fails. */
export function compile(cc: string, sources: Record<string, string>, flags: string[]): Program {
  const out = join(dir, `prog${count++}.elf`);
  for (const [name, text] of Object.entries(sources)) writeFileSync(join(dir, name), text);
  const r = spawnSync(cc, [
    ...flags, '-ffreestanding', '-nostdlib', '-static', '-fno-pie', ...(cc === 'gcc' ? ['-no-pie'] : []),
    '-fno-stack-protector', '-Wl,-e,main', '-o', out, ...Object.keys(sources),
  ], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cc} ${flags.join(' ')} failed: ${r.stderr}`);
  const obj = objectFileFromElf(out, readFileSync(out));
  const data = openDebugData(debugSectionsOf(obj));
  return {
    path: out, obj, data,
    symbol(name) {
      const s = obj.symbols().find((x) => x.name === name);
      if (!s) throw new Error(`no symbol ${name}`);
      return { address: s.value, size: s.size };
    },
  };
}

/** The compile directory: DW_AT_comp_dir and the prefix of every declFile. */
export const compileDir = dir;
