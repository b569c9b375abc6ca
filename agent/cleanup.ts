/**
 * Kill every task checkpointed in an agent work dir, without a running agent (for `sextant up`
 * on exit, when an agent died, and for tests). Only processes whose pid and start time still
 * match the checkpoint are signalled, so a reused pid is never hit.
 */
import { WorkDir } from './workdir.js';
import { groupMembers, sameProcessAlive, signalGroup } from './proc.js';

/** SIGKILL the process group of every live checkpointed task; returns the pids signalled. */
export function killCheckpointedTasks(workDir: string): number[] {
  const wd = new WorkDir(workDir);
  const killed: number[] = [];
  for (const rec of wd.loadTasks(() => {})) {
    if (!rec.pid) continue;
    if (sameProcessAlive(rec.pid, rec.startTime) || groupMembers(rec.pid).length) {
      if (signalGroup(rec.pid, 'SIGKILL')) killed.push(rec.pid);
    }
  }
  return killed;
}
