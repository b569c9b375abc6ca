/** Process helpers for the traffic bench: every command bounded in time, every server killed by PID. */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { forgetGroup, trackGroup } from '../lib/groups.js';

export { median } from '../lib/stats.js';

export function nsExec(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/** Run argv to completion (killed after timeoutMs) without blocking this event loop; resolves stdout. */
export function runAsync(argv: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(Object.assign(new Error(`${argv.join(' ')} failed (${sig ?? `exit ${code}`}): ${(err || out).trim().slice(0, 500)}`), { stdout: out }));
    });
  });
}

export interface Proc {
  stop(): void;
  /** The process (group leader) id; 0 when not known. */
  readonly pid: number;
}

/** Start a server (its own process group) and wait until its output matches `ready`. */
export function startProcess(argv: string[], ready: RegExp, timeoutMs = 10_000): Promise<Proc> {
  const full = argv;
  return new Promise((resolve, reject) => {
    const p = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    trackGroup(p.pid);
    const stop = () => {
      forgetGroup(p.pid);
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    let seen = '';
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${full.join(' ')} not ready after ${timeoutMs} ms: ${seen.slice(0, 300)}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (ready.test(seen)) {
        clearTimeout(timer);
        p.stdout.off('data', onData);
        p.stdout.resume();
        resolve({ stop, pid: p.pid ?? 0 });
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', (d: Buffer) => (seen += d.toString()));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${full.join(' ')} exited (${code}) before ready: ${seen.slice(0, 300)}`));
    });
  });
}

/** CPU seconds used so far by this process and by its waited-for children (nft, nsenter). */
export function cpuSeconds(): { self: number; children: number } {
  const u = process.cpuUsage();
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3: cutime is field 16, cstime field 17 (clock ticks).
  const children = (Number(f[13]) + Number(f[14])) / 100;
  return { self: (u.user + u.system) / 1e6, children };
}
