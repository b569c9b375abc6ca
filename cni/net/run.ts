/**
 * Runs `ip` and `nft` in the right namespace. The plugin's own namespace is the host side
 * (the agent's); `Host.netns` moves that side into a named namespace instead, which tests and
 * benchmarks use so the real host is never touched. The task side is a namespace path
 * (CNI_NETNS): `ip -n NAME` for /run/netns names, `nsenter --net=PATH` for anything else.
 */
import { spawnSync } from 'node:child_process';
import { CniError, CODES } from '../errors.js';

export interface Host {
  /** Named namespace standing in for the host side (unset: the plugin's own namespace). */
  netns?: string;
}

type Argv = [string, string[]];

export function hostIp(host: Host, args: string[]): Argv {
  return ['ip', host.netns ? ['-n', host.netns, ...args] : args];
}

export function hostCmd(host: Host, cmd: string, args: string[]): Argv {
  return host.netns ? ['ip', ['netns', 'exec', host.netns, cmd, ...args]] : [cmd, args];
}

/** `ip` inside the namespace at `path`. */
export function nsIp(path: string, args: string[]): Argv {
  const m = /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(path);
  if (m) return ['ip', ['-n', m[1]!, ...args]];
  return ['nsenter', [`--net=${path}`, 'ip', ...args]];
}

export class CommandFailed extends CniError {
  constructor(
    readonly argv: string[],
    readonly stderr: string,
  ) {
    super(CODES.kernel, `${argv.join(' ')}: ${stderr.trim() || 'failed'}`);
  }
}

/**
 * Run a command; resolves stdout, rejects CommandFailed with its stderr. The plugin is a
 * short-lived process doing one thing at a time, so the child runs synchronously: no stream
 * objects and no event-loop round trips per spawn (a few ms each on a busy machine).
 */
export function run([cmd, args]: Argv, input?: string): Promise<string> {
  const r = spawnSync(cmd, args, { input: input ?? '', encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) return Promise.reject(new CommandFailed([cmd, ...args], r.error.message));
  if (r.status !== 0) return Promise.reject(new CommandFailed([cmd, ...args], r.stderr || (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`)));
  return Promise.resolve(r.stdout);
}

export const isExists = (e: unknown): boolean => e instanceof CommandFailed && /exists/i.test(e.stderr);
export const isMissing = (e: unknown): boolean =>
  e instanceof CommandFailed && /(does not exist|cannot find device|no such file|not found|no such device|cannot open network namespace)/i.test(e.stderr);

/** The JSON printed by the last `ip -j ... show` (one array per line). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.split('\n').filter((l) => l.trim().startsWith('['));
  return JSON.parse(lines[lines.length - 1] ?? '[]') as T;
}
