/** Runs `nft` (optionally inside a named network namespace or behind a command prefix) through common/proc. */
import { readFile, writeFile } from 'node:fs/promises';
import { inNetns, run, ProcessError } from '../../common/index.js';
import { DriverError } from '../errors.js';

export interface NftRunner {
  /** Run `nft args...` with `input` on stdin; resolves stdout, rejects with stderr. */
  (args: string[], input?: string): Promise<string>;
}

export interface NftExecOptions {
  /** Run inside this network namespace (common/netns: `ip netns exec NAME nft ...`). */
  netns?: string;
  /** Or: an explicit argv prefix, e.g. ['nsenter', '-t', '123', '-n'] (the benchmark's). */
  prefix?: string[];
  nft?: string;
  timeoutMs?: number;
}

/** `argv` in the namespace `opts` names (none: this one). */
export const place = (opts: NftExecOptions, argv: string[]): string[] => (opts.prefix ? [...opts.prefix, ...argv] : inNetns(opts.netns, argv));

export function nftRunner(opts: NftExecOptions = {}): NftRunner {
  const nft = opts.nft ?? 'nft';
  return async (args, input) => {
    try {
      // stdin is always a pipe closed after `input`: `nft -f -` without input reads nothing.
      return (await run(place(opts, [nft, ...args]), { input: input ?? '', timeoutMs: opts.timeoutMs ?? 120_000 })).stdout;
    } catch (e) {
      throw new DriverError('nftables', (e as Error).message, { cause: e });
    }
  };
}

/**
 * Reads a sysctl (`net.bridge.bridge-nf-call-iptables`) in the namespace the runner works in:
 * directly from /proc/sys, or through the same prefix. Undefined when the key does not exist;
 * rejects (naming the key and why) when it cannot be read, e.g. the namespace is gone.
 */
export function sysctlReader(opts: NftExecOptions = {}): (key: string) => Promise<string | undefined> {
  const fail = (key: string, why: string, cause?: unknown) => new DriverError('nftables', `cannot read sysctl ${key}: ${why}`, { cause });
  return async (key) => {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    if (!opts.prefix && !opts.netns)
      return readFile(path, 'utf8').then(
        (s) => s.trim(),
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return undefined;
          throw fail(key, e.message, e);
        },
      );
    try {
      return (await run(place(opts, ['cat', path]), { timeoutMs: opts.timeoutMs ?? 10_000 })).stdout.trim();
    } catch (e) {
      const said = e instanceof ProcessError ? e.stderr.trim() : '';
      // `cat` ran and found no such key (the namespace exists, the module is not loaded).
      if (said.startsWith('cat:') && said.includes('No such file or directory')) return undefined;
      throw fail(key, (e as Error).message, e);
    }
  };
}

/** Writes a sysctl in the namespace the runner works in (rejects naming the key and why). */
export function sysctlWriter(opts: NftExecOptions = {}): (key: string, value: string) => Promise<void> {
  return async (key, value) => {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    try {
      if (!opts.prefix && !opts.netns) await writeFile(path, `${value}\n`);
      else await run(place(opts, ['sh', '-c', 'printf "%s\\n" "$1" > "$2"', 'sh', value, path]), { timeoutMs: opts.timeoutMs ?? 10_000 });
    } catch (e) {
      throw new DriverError('nftables', `cannot set sysctl ${key}=${value}: ${(e as Error).message}`, { cause: e });
    }
  };
}
