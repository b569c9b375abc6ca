/**
 * Process facts from /proc, so a task process can be recognised again after an agent restart
 * (pid + start time: a reused pid has another start time) and its whole group signalled.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined if gone/zombie. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parens: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return rest[19];
}

/** True when `pid` is alive and is the same process that started at `startTime`. */
export function sameProcessAlive(pid: number, startTime: string | undefined): boolean {
  const now = processStartTime(pid);
  return now !== undefined && (startTime === undefined || now === startTime);
}

/** Signal a whole process group; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!(pgid > 1)) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Pids (not zombies) whose process group is `pgid`, from a scan of /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z' && Number(rest[2]) === pgid) out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}
