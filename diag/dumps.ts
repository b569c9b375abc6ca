/**
 * Kernel dumps a node takes of its own network namespace for `sextant diag bundle`. The commands
 * are fixed here: nothing from a request reaches a command line. A tool that is not installed
 * (ipvsadm on most nodes) is reported as skipped; a command that fails keeps its exit code and
 * stderr in the dump.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ProcessError, run } from '../common/index.js';

export interface Dump {
  name: string;
  command: string;
  exit_code: number | null;
  output: string;
  /** Why there is no output (tool missing, timed out, failed). */
  error?: string;
}

export const DUMP_COMMANDS: readonly { name: string; argv: readonly string[]; optional?: boolean }[] = [
  { name: 'nft-ruleset', argv: ['nft', 'list', 'ruleset'] },
  { name: 'ipvsadm', argv: ['ipvsadm', '-Ln'], optional: true },
  { name: 'ip-link', argv: ['ip', '-d', 'link'] },
  { name: 'ip-route', argv: ['ip', 'route', 'show', 'table', 'all'] },
  { name: 'ip-neigh', argv: ['ip', 'neigh'] },
  { name: 'bridge-fdb', argv: ['bridge', 'fdb'] },
];

const MAX_OUTPUT = 4 * 1024 * 1024;

async function onPath(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    if (await access(join(dir, cmd), constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export async function takeDumps(timeoutMs = 10_000): Promise<Dump[]> {
  return Promise.all(
    DUMP_COMMANDS.map(async ({ name, argv, optional }): Promise<Dump> => {
      const command = argv.join(' ');
      if (!(await onPath(argv[0]!))) return { name, command, exit_code: null, output: '', error: `${argv[0]} is not installed${optional ? ' (skipped)' : ''}` };
      try {
        const r = await run(argv, { timeoutMs });
        return { name, command, exit_code: 0, output: cap(r.stdout) };
      } catch (e) {
        if (e instanceof ProcessError) return { name, command, exit_code: e.code, output: cap(e.stdout), error: e.message };
        return { name, command, exit_code: null, output: '', error: (e as Error).message };
      }
    }),
  );
}

const cap = (s: string) => (s.length > MAX_OUTPUT ? `${s.slice(0, MAX_OUTPUT)}\n[cut at ${MAX_OUTPUT} bytes]\n` : s);
