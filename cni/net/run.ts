/**
 * Runs `ip` and `nft` in the right namespace, through common/proc (synchronously: the plugin is a
 * short-lived process doing one thing at a time) and common/netns. The plugin's own namespace is
 * the host side (the agent's); `Host.netns` moves that side into a named namespace instead, which
 * tests and benchmarks use so the real host is never touched. The task side is a namespace path
 * (CNI_NETNS).
 */
import { inNetns } from '../../common/netns.js';
import { ProcessError, runSync } from '../../common/proc.js';
import { CniError, CODES } from '../errors.js';

export interface Host {
  /** Named namespace standing in for the host side (unset: the plugin's own namespace). */
  netns?: string;
}

type Argv = string[];

export function hostIp(host: Host, args: string[]): Argv {
  return inNetns(host.netns, ['ip', ...args]);
}

export function hostCmd(host: Host, cmd: string, args: string[]): Argv {
  return inNetns(host.netns, [cmd, ...args]);
}

/** `ip` inside the namespace at `path`. */
export function nsIp(path: string, args: string[]): Argv {
  return inNetns(path, ['ip', ...args]);
}

export class CommandFailed extends CniError {
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
    message: string,
  ) {
    super(CODES.kernel, message);
  }
}

/** Run a command; resolves stdout, rejects CommandFailed (a CNI error 102) with its stderr. */
export function run(argv: Argv, input?: string): Promise<string> {
  try {
    return Promise.resolve(runSync(argv, { input: input ?? '' }).stdout);
  } catch (e) {
    const stderr = e instanceof ProcessError ? e.stderr : '';
    return Promise.reject(new CommandFailed(argv, stderr || (e as Error).message, (e as Error).message));
  }
}

export const isExists = (e: unknown): boolean => e instanceof CommandFailed && /exists/i.test(e.stderr);
export const isMissing = (e: unknown): boolean =>
  e instanceof CommandFailed && /(does not exist|cannot find device|no such file|not found|no such device|cannot open network namespace)/i.test(e.stderr);

/** The JSON printed by the last `ip -j ... show` (one array per line). */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.split('\n').filter((l) => l.trim().startsWith('['));
  return JSON.parse(lines[lines.length - 1] ?? '[]') as T;
}
