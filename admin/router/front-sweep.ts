/**
 * Runtime directories of fronts that died without stopping (a master killed by SIGKILL, a crash) are
 * removed when another front starts. A directory is a front's by its name (`front-<12 hex>`), being a real
 * directory of this process's user, and holding an `owner` file or Node's `entry.sock`; it is dead when its
 * owner process is gone (pid and start time from `owner`) and its socket accepts no connection (refused, or
 * no socket). Anything else is kept: another live front, one still starting, a directory not ours.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../../common/log.js';

const NAME = /^front-[0-9a-f]{12}$/;
const SOCKET = 'entry.sock';
const OWNER = 'owner';
const CONNECT_TIMEOUT_MS = 2000;

/** This process's start time in clock ticks since boot (/proc/PID/stat field 22), or undefined. */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Mark `runDir` as this process's (written right after it is made, before anything else in it). */
export function writeOwner(runDir: string): void {
  fs.writeFileSync(path.join(runDir, OWNER), `${process.pid} ${startTime('self') ?? ''}\n`, { mode: 0o600 });
}

/** Whether the process named in `owner` still runs (the same one: pid and start time). */
function ownerAlive(dir: string): boolean | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, OWNER), 'utf8');
  } catch {
    return undefined;
  }
  const [pid, start] = text.trim().split(' ');
  return !!pid && /^\d+$/.test(pid) && startTime(Number(pid)) === start;
}

/** `live` if the socket accepts; `dead` if refused or absent; `unknown` otherwise (kept). */
function probe(socket: string): Promise<'live' | 'dead' | 'unknown'> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    const timer = setTimeout(() => (s.destroy(), resolve('unknown')), CONNECT_TIMEOUT_MS);
    s.once('connect', () => (clearTimeout(timer), s.destroy(), resolve('live')));
    s.once('error', (e: NodeJS.ErrnoException) => (clearTimeout(timer), resolve(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'dead' : 'unknown')));
  });
}

function isSocket(f: string): boolean | undefined {
  try {
    return fs.lstatSync(f).isSocket();
  } catch {
    return undefined;
  }
}

/** Why `dir` is a dead front's runtime directory, or undefined to keep it. */
async function deadWhy(dir: string): Promise<string | undefined> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid)) return undefined;
  const owner = ownerAlive(dir);
  const sock = isSocket(path.join(dir, SOCKET));
  if (owner === undefined && sock === undefined) return undefined; // not ours by layout, or a front just made it
  if (owner) return undefined;
  if (sock === false) return undefined; // an entry.sock that is no socket: not our layout
  const p = sock ? await probe(path.join(dir, SOCKET)) : 'dead';
  if (p !== 'dead') return undefined;
  return `${owner === false ? 'its owner process is gone' : 'no owner file'}, ${sock ? 'its socket refuses connections' : 'no socket'}`;
}

/** Remove the dead fronts' directories under `root` (not `except`, this front's own); the ones removed. */
export async function sweepFrontRunDirs(root: string, log: Logger, except?: string): Promise<string[]> {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => NAME.test(n))) {
    const dir = path.join(root, name);
    if (except && path.resolve(dir) === path.resolve(except)) continue;
    const why = await deadWhy(dir);
    if (!why) continue;
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      log.warn('entry_front_sweep_failed', { dir, why, err: e }); // the front starts all the same
      continue;
    }
    log.info('entry_front_swept', { dir, why });
    removed.push(dir);
  }
  return removed;
}
