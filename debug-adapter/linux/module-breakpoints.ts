/**
 * Breakpoints in code that comes and goes: a source line in a module that
 * is not loaded is pending (unverified, "pending: in module kvmdbg_mod,
 * which is not loaded") rather than an error, and every breakpoint that may
 * live in a module is resolved again when one loads or unloads: it binds to
 * the module's addresses, or goes back to pending. The session arms the
 * result; a changed breakpoint reaches the client as a `breakpoint` event.
 */
import { basename } from 'node:path';
import type { Breakpoint } from '../breakpoints';
import { hitConditionMatcher, syntaxProblem } from '../expressions';
import type { SymbolSpace } from '../symbols/symbol-space';

/** Which module a file belongs to, among modules seen or found on disk but not loaded now. */
export type OwnerOfFile = (file: string) => string | undefined;

/** The sentence of a source breakpoint whose file no loaded object has. */
export function pendingSourceMessage(file: string, owner: string | undefined): string {
  return owner
    ? `pending: in module ${owner}, which is not loaded`
    : `pending: no loaded object has code for ${basename(file)} (a module not loaded yet?); kvmdbg sets it when one with it loads`;
}

/** A loaded object has the file, but no code at the line any more (an init function, freed once the module ran). */
export function freedMessage(file: string, line: number, objects: string[]): string {
  return `pending: no live code at or after line ${line} of ${basename(file)} in ${objects.join(', ')} (a module's init code is freed once it has run); kvmdbg sets it if the module loads again`;
}

export function pendingFunctionMessage(name: string): string {
  return `pending: no function named "${name}" in the kernel or its loaded modules; kvmdbg looks again when a module loads`;
}

/** The line the client asked for (the key keeps it; `line` holds the line resolved to). */
function requestedLine(b: Breakpoint): number | undefined {
  const m = /:(\d+)$/.exec(b.key);
  return m ? Number(m[1]) : undefined;
}

function conditionProblem(b: Breakpoint): string | undefined {
  const cond = b.condition ? syntaxProblem(b.condition) : undefined;
  if (cond) return `condition "${b.condition}": ${cond}`;
  if (b.hitCondition && !hitConditionMatcher(b.hitCondition)) return `hit count "${b.hitCondition}": expected a number such as 5, ">= 5", "== 5" or "% 3"`;
  return undefined;
}

/**
 * Resolves every rebindable breakpoint again in `space` (source lines through `unmap`, the
 * sourceFileMap's compiled path); returns those whose addresses or problem changed.
 */
export function rebindBreakpoints(list: readonly Breakpoint[], space: SymbolSpace, unmap: (path: string) => string, owner: OwnerOfFile): Breakpoint[] {
  const changed: Breakpoint[] = [];
  for (const b of list) {
    if (!b.rebind || (b.problem && !b.pending)) continue;
    const before = `${b.addresses.join(',')}|${b.problem}|${b.line}`;
    let addresses: bigint[] = [];
    let line = b.line;
    let pending: string | undefined;
    if (b.kind === 'source' && b.path) {
      const file = unmap(b.path);
      const asked = requestedLine(b) ?? b.line ?? 0;
      const r = space.resolveBreakpoint(file, asked);
      if (r && r.addresses.length > 0) { addresses = r.addresses; line = r.line; } else {
        const loaded = space.objectsWithFile(file);
        pending = loaded.length > 0 ? freedMessage(file, asked, loaded) : pendingSourceMessage(file, owner(file));
        line = asked;
      }
    } else if (b.kind === 'function') {
      const name = b.key.replace(/^fn:/, '');
      const a = space.addressOf(name);
      if (a !== undefined) addresses = [a]; else pending = pendingFunctionMessage(name);
    } else {
      continue;
    }
    b.addresses = addresses;
    b.line = line;
    b.pending = pending !== undefined;
    // The message stays as it was: arming compares it with the new one and tells the client of the change.
    b.problem = pending ?? conditionProblem(b);
    if (`${b.addresses.join(',')}|${b.problem}|${b.line}` !== before) changed.push(b);
  }
  return changed;
}
