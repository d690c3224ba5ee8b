/**
 * The Debug Console's kernel commands (`ps`, `dmesg`, `cmdline`...), also
 * under the `lx-` names gdb users type. A registry: the session adds the
 * commands it has (the modules' `lsmod` comes from elsewhere), and a line
 * that is not a command is left to the C expression evaluator. A command
 * answers text; a LinuxError is its one-sentence answer, never the end of
 * the session.
 */
import { ExprError } from '../expr';
import { formatRecord, readKernelLog } from './dmesg';
import { commandLine, formatIomem, iomem, perCpu, versionBanner } from './kernel-info';
import { Kernel, LinuxError } from './kernel';
import { formatTask, listTasks, TASK_HEADER } from './tasks';

export interface CommandEnv {
  /** The kernel's memory and DWARF (throws a LinuxError when the kernel cannot be read). */
  kernel(): Promise<Kernel>;
  /** The machine's vCPUs. */
  cpus: number;
}

export interface ConsoleCommand {
  name: string;
  usage: string;
  help: string;
  run(args: string[], env: CommandEnv): Promise<string>;
}

export class ConsoleCommands {
  private readonly commands = new Map<string, ConsoleCommand>();

  add(command: ConsoleCommand): void {
    this.commands.set(command.name, command);
  }

  list(): ConsoleCommand[] {
    return [...this.commands.values()];
  }

  /** The command a console line names (`ps`, `lx-ps`, `dmesg 20`), or undefined for a C expression. */
  parse(line: string): { command: ConsoleCommand; args: string[] } | undefined {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return undefined;
    const name = words[0].replace(/^lx-/, '');
    const command = name === 'help' && words[0] === 'help' ? this.helpCommand() : this.commands.get(name);
    if (!command) return undefined;
    // `per-cpu` alone is a command; `ps - 1` or `version + 1` would be C, but no kernel has globals by these names that users subtract from.
    if (words.length > 1 && /^[-+*/%=<>&|^!~.([]/.test(words[1]) && command.name !== 'per-cpu') return undefined;
    return { command, args: words.slice(1) };
  }

  /** Runs a console line; undefined when it is not a command. */
  async run(line: string, env: CommandEnv): Promise<string | undefined> {
    const parsed = this.parse(line);
    if (!parsed) return undefined;
    try {
      return await parsed.command.run(parsed.args, env);
    } catch (e) {
      if (e instanceof LinuxError || e instanceof ExprError) return `${parsed.command.name}: ${e.message}`;
      throw e;
    }
  }

  private helpCommand(): ConsoleCommand {
    return {
      name: 'help', usage: 'help', help: 'lists these commands',
      run: async () => [
        'Kernel commands (also as lx-NAME, as in gdb\'s scripts); anything else is a C expression:',
        ...this.list().map((c) => `  ${c.usage.padEnd(16)} ${c.help}`),
      ].join('\n'),
    };
  }
}

/** The commands this module provides. */
export function linuxCommands(): ConsoleCommands {
  const c = new ConsoleCommands();
  c.add({
    name: 'ps', usage: 'ps', help: 'the kernel\'s tasks: pid, tgid, CPU, state, name (running ones marked)',
    run: async (_args, env) => {
      const list = listTasks(await env.kernel(), { cpus: env.cpus });
      const lines = [TASK_HEADER, ...list.tasks.map(formatTask)];
      if (list.problem) lines.push(`(${list.problem})`);
      return lines.join('\n');
    },
  });
  c.add({
    name: 'dmesg', usage: 'dmesg [N]', help: 'the kernel log (its last N records)',
    run: async (args, env) => {
      const last = args[0] !== undefined ? Number(args[0]) : undefined;
      if (last !== undefined && (!Number.isInteger(last) || last < 0)) throw new LinuxError(`dmesg takes a number of records, not "${args[0]}"`);
      const log = readKernelLog(await env.kernel(), { last });
      if (log.records.length === 0) return '(the kernel log is empty)';
      return log.records.map(formatRecord).join('\n');
    },
  });
  c.add({ name: 'cmdline', usage: 'cmdline', help: 'the kernel command line', run: async (_a, env) => commandLine(await env.kernel()) });
  c.add({ name: 'version', usage: 'version', help: 'the kernel\'s version banner', run: async (_a, env) => versionBanner(await env.kernel()) });
  c.add({
    name: 'iomem', usage: 'iomem', help: 'the physical memory map (/proc/iomem)',
    run: async (_a, env) => {
      const r = iomem(await env.kernel());
      const lines = formatIomem(r.entries);
      if (r.problem) lines.push(`(${r.problem})`);
      return lines.length > 0 ? lines.join('\n') : '(iomem_resource has no children)';
    },
  });
  c.add({
    name: 'per-cpu', usage: 'per-cpu VAR', help: 'a per-cpu variable\'s value on each CPU',
    run: async (args, env) => {
      if (args.length !== 1) throw new LinuxError('per-cpu takes one variable name, like "per-cpu runqueues"');
      return perCpu(await env.kernel(), args[0], env.cpus).join('\n');
    },
  });
  return c;
}
