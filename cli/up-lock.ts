/**
 * The work-dir lock of `sextant up`: `<work-dir>/up.lock` holds the pid and /proc start time of the
 * `up` that owns the dir, so a second `up` on the same dir fails before it starts anything, and
 * never cleans up (kills checkpointed tasks of) agents it did not start. A lock whose process is
 * gone (or whose pid was reused: another start time) is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { processStartTime, sameProcessAlive } from '../agent/index.js';

export const LOCK_FILE = 'up.lock';

export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat; tells a reused pid apart. */
  startTime?: string;
}

export function selfRef(): ProcessRef {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

export function isRunning(ref: ProcessRef): boolean {
  return ref.pid > 0 && sameProcessAlive(ref.pid, ref.startTime);
}

function readRef(path: string): ProcessRef | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    if (typeof v.pid === 'number') return { pid: v.pid, startTime: typeof v.startTime === 'string' ? v.startTime : undefined };
  } catch {
    /* a torn or foreign file: treated as stale */
  }
  return undefined;
}

/** The running process that holds the lock at `path`, if any (not this process). */
export function lockOwner(path: string): ProcessRef | undefined {
  const ref = readRef(path);
  return ref && ref.pid !== process.pid && isRunning(ref) ? ref : undefined;
}

export class LockHeldError extends Error {
  override name = 'LockHeldError';
}

/**
 * Take the lock (O_EXCL); a stale one is removed first. Returns the release function, which
 * removes the file only while it is still ours.
 */
export function acquireLock(path: string): () => void {
  const me = selfRef();
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = lockOwner(path);
      if (owner) throw new LockHeldError(`${path} is held by running pid ${owner.pid}`);
      try {
        unlinkSync(path);
      } catch {
        /* another `up` removed it first; the next O_EXCL decides */
      }
      continue;
    }
    writeSync(fd, `${JSON.stringify(me)}\n`);
    closeSync(fd);
    return () => {
      const ref = readRef(path);
      if (ref?.pid === me.pid && ref.startTime === me.startTime) unlinkSync(path);
    };
  }
  throw new LockHeldError(`${path}: another sextant up took it at the same time`);
}
