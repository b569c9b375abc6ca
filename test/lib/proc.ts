/**
 * Processes started by tests: tracked by PID and killed (whole process group) on teardown.
 */
import { spawn, ChildProcess, SpawnOptions } from 'node:child_process';

export interface Tracked {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolve when a line of stdout/stderr matches (rejects on exit or timeout). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

export interface Teardownable {
  teardown(fn: () => unknown): void;
}

export function spawnTracked(t: Teardownable, cmd: string, args: string[], opts: SpawnOptions & { graceMs?: number } = {}): Tracked {
  const { graceMs = 3000, ...spawnOpts } = opts;
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...spawnOpts });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 4 << 20) out = out.slice(-(2 << 20));
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* gone */
      }
    }
  };
  t.teardown(async () => {
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    kill,
    waitFor(re, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            cleanup();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} in output of ${cmd}:\n${out.slice(-2000)}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`${cmd} exited before printing ${re}:\n${out.slice(-2000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}

/** Poll an async condition until true or timeout; for state that has no event to await. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10000, everyMs = 50, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Is a PID alive (and not a zombie)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

/**
 * Stop processes by PID: SIGTERM, then SIGKILL to those still alive after `graceMs`. For daemons a
 * test learns about from output (e.g. the master and agents `sextant up` starts in their own
 * process groups), so a slow shutdown under load never leaks them.
 */
export async function stopPids(pids: number[], graceMs = 10000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  };
  for (const p of pids) signal(p, 'SIGTERM');
  const end = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  for (const p of pids.filter(alive)) signal(p, 'SIGKILL');
}
