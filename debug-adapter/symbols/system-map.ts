/**
 * Symbols from a System.map (or `nm` / /proc/kallsyms listing): names only,
 * no source lines or frame information. Debian ships a placeholder at
 * /boot/System.map-<version> whose one line says the real map is in the
 * -dbg package; that gets a sentence saying so instead of a table with one
 * bogus symbol.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Symbols } from './index';
import { SymbolTable } from './symbol-table';

/** Debian's /boot/System.map-* placeholder: "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package". */
const PLACEHOLDER = /The real System\.map is in the (\S+) package/;

export function loadSystemMap(path: string): Symbols {
  const syms = new Symbols(basename(path));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    syms.summary = `${syms.name}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): no symbols`;
    syms.warnings.push(syms.summary);
    return syms;
  }
  const placeholder = PLACEHOLDER.exec(text.slice(0, 4096));
  if (placeholder && text.length < 4096) {
    const release = /System\.map-(.+)$/.exec(syms.name)?.[1];
    const pkg = release ? `linux-image-${release}-dbg` : placeholder[1];
    syms.summary = `${syms.name}: no symbols (a placeholder)`;
    syms.warnings.push(`${syms.name} is Debian's placeholder, not a symbol map ("The real System.map is in the ${placeholder[1]} package"): `
      + `install ${pkg} and set "symbols" to its System.map or vmlinux; until then only instruction breakpoints by address work`);
    return syms;
  }
  syms.table = SymbolTable.fromSystemMap(text);
  syms.summary = `${syms.name}: ${syms.table.size} symbols (names only: no source lines or frame information)`;
  if (syms.table.size === 0) syms.warnings.push(`${syms.name} has no lines like "ffffffff81000000 T _text": is it a System.map?`);
  return syms;
}
