/** Runs `nft` (optionally inside a named network namespace or behind a command prefix). */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { DriverError } from '../errors.js';

export interface NftRunner {
  /** Run `nft args...` with `input` on stdin; resolves stdout, rejects with stderr. */
  (args: string[], input?: string): Promise<string>;
}

export interface NftExecOptions {
  /** Run inside this network namespace (`ip netns exec NAME nft ...`). */
  netns?: string;
  /** Or: an explicit argv prefix, e.g. ['nsenter', '-t', '123', '-n']. */
  prefix?: string[];
  nft?: string;
  timeoutMs?: number;
}

/** The argv prefix that runs a command in the namespace `opts` names (none: this one). */
const execPrefix = (opts: NftExecOptions): string[] => opts.prefix ?? (opts.netns ? ['ip', 'netns', 'exec', opts.netns] : []);

export function nftRunner(opts: NftExecOptions = {}): NftRunner {
  const prefix = execPrefix(opts);
  const nft = opts.nft ?? 'nft';
  return (args, input) =>
    new Promise((resolve, reject) => {
      const argv = [...prefix, nft, ...args];
      const p = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
      p.stdout.on('data', (d: Buffer) => out.push(d));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', (e) => {
        clearTimeout(timer);
        reject(new DriverError('nftables', `cannot run ${argv.join(' ')}: ${e.message}`, { cause: e }));
      });
      p.on('close', (code, sig) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else reject(new DriverError('nftables', `${argv.join(' ')} failed (${sig ?? `exit ${code}`}): ${err.trim().slice(0, 2000)}`));
      });
      p.stdin.on('error', () => undefined);
      p.stdin.end(input ?? '');
    });
}

/**
 * Reads a sysctl (`net.bridge.bridge-nf-call-iptables`) in the namespace the runner works in:
 * directly from /proc/sys, or through the same prefix. Undefined when the key does not exist;
 * rejects (naming the key and why) when it cannot be read, e.g. the namespace is gone.
 */
export function sysctlReader(opts: NftExecOptions = {}): (key: string) => Promise<string | undefined> {
  const prefix = execPrefix(opts);
  const fail = (key: string, why: string, cause?: unknown) => new DriverError('nftables', `cannot read sysctl ${key}: ${why}`, { cause });
  return async (key) => {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    if (!prefix.length)
      return readFile(path, 'utf8').then(
        (s) => s.trim(),
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return undefined;
          throw fail(key, e.message, e);
        },
      );
    return new Promise((resolve, reject) => {
      execFile(prefix[0]!, [...prefix.slice(1), 'cat', path], { timeout: opts.timeoutMs ?? 10_000 }, (err, out, stderr) => {
        if (!err) return resolve(out.trim());
        const said = String(stderr).trim();
        // `cat` ran and found no such key (the namespace exists, the module is not loaded).
        if (said.startsWith('cat:') && said.includes('No such file or directory')) return resolve(undefined);
        reject(fail(key, `${[...prefix, 'cat', path].join(' ')} failed: ${said.slice(0, 500) || err.message}`, err));
      });
    });
  };
}
