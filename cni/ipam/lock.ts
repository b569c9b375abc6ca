/**
 * A lockfile created with O_EXCL, held while the allocator reads and writes the store. A lock
 * whose owner process is gone (or that is older than `staleMs`) is broken. Correctness does not
 * rest on the lock alone: every address file is itself created with O_EXCL, so even a wrongly
 * broken lock cannot hand one address out twice.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { CniError, CODES } from '../errors.js';

export interface LockOptions {
  timeoutMs?: number;
  staleMs?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function breakIfStale(path: string, staleMs: number): void {
  let content: string;
  let age: number;
  try {
    content = readFileSync(path, 'utf8');
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return; // released meanwhile
  }
  const pid = Number(content.split(' ')[0]);
  // A lock still being written has no content yet: only age can make it stale.
  const dead = Number.isInteger(pid) && pid > 0 && !alive(pid);
  if (!dead && age < staleMs) return;
  try {
    if (readFileSync(path, 'utf8') === content) unlinkSync(path);
  } catch {
    /* someone else broke it first */
  }
}

/** Run `fn` holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60000);
  const staleMs = opts.staleMs ?? 60000;
  // Only needs to tell holders apart (the pid comes first, for breakIfStale).
  const token = `${process.pid} ${Math.random().toString(16).slice(2, 14)}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, token);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new CniError(CODES.io, `cannot create lock ${path}: ${(e as Error).message}`);
    }
    if (Date.now() > deadline) throw new CniError(CODES.tryAgainLater, `timed out waiting for lock ${path}`);
    if (attempt % 20 === 19) breakIfStale(path, staleMs);
    await new Promise((r) => setTimeout(r, 1 + Math.random() * Math.min(20, attempt + 1)));
  }
  try {
    return await fn();
  } finally {
    try {
      if (readFileSync(path, 'utf8') === token) unlinkSync(path);
    } catch {
      /* broken by someone as stale; nothing to release */
    }
  }
}
