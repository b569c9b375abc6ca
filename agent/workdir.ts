/**
 * What the agent checkpoints in its work dir, so a restarted agent (even after kill -9) comes back
 * with the same id and finds its tasks:
 *   <dir>/agent.json              { agent_id, secret }  (mode 0600: the secret is the agent's credential)
 *   <dir>/tasks/<task_id>.json    TaskRecord (pid, start time, state, statuses, attachment)
 *   <dir>/sandboxes/<task_id>/    the task's cwd, with stdout and stderr
 * Writes are write-temp-then-rename, so a crash leaves the old or the new file, never half of one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkAttachment } from '../contracts/index.js';
import type { TaskInfo, TaskState, TaskStatusEntry } from '../contracts/index.js';
import { WorkDirError } from './errors.js';

export type { TaskStatusEntry } from '../contracts/index.js';

export interface TaskRecord {
  info: TaskInfo;
  state: TaskState;
  statuses: TaskStatusEntry[];
  /** Process (and group) id of `sh -c cmd`. */
  pid?: number;
  /** /proc start time of pid, to tell it from a reused pid. */
  startTime?: string;
  /** Set once we started killing it: its exit is then TASK_KILLED. */
  killRequested?: boolean;
  killReason?: string;
  killMessage?: string;
  attachment?: NetworkAttachment;
  healthy?: boolean;
  /** The last status sequence number given to this task's updates (protocol.ts `seq`). */
  seq?: number;
  /** The terminal update reached the master: the record can go. */
  terminalAcked?: boolean;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** Task ids become file names: only a safe character set is accepted. */
export function isSafeTaskId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

export class WorkDir {
  constructor(readonly dir: string) {}

  ensure(): void {
    mkdirSync(join(this.dir, 'tasks'), { recursive: true });
    mkdirSync(join(this.dir, 'sandboxes'), { recursive: true });
  }

  readAgentId(): string | undefined {
    return this.readAgent()?.agent_id;
  }

  /** The agent's id and secret (absent: a new agent; no secret: written before secrets existed). */
  readAgent(): { agent_id: string; secret?: string } | undefined {
    const path = join(this.dir, 'agent.json');
    const v = this.readJson(path) as { agent_id?: unknown; secret?: unknown } | undefined;
    if (v === undefined) return undefined;
    if (typeof v.agent_id !== 'string' || !v.agent_id) throw new WorkDirError(path, 'agent_id must be a non-empty string');
    if (v.secret !== undefined && (typeof v.secret !== 'string' || !v.secret)) throw new WorkDirError(path, 'secret must be a non-empty string');
    return { agent_id: v.agent_id, ...(typeof v.secret === 'string' ? { secret: v.secret } : {}) };
  }

  writeAgentId(id: string, secret?: string): void {
    writeAtomic(join(this.dir, 'agent.json'), JSON.stringify({ agent_id: id, ...(secret ? { secret } : {}) }), true, 0o600);
  }

  /** Forget id and secret (the master no longer knows this agent): the next registration is a new agent. */
  forgetAgentId(): void {
    rmSync(join(this.dir, 'agent.json'), { force: true });
  }

  sandbox(taskId: string): string {
    return join(this.dir, 'sandboxes', taskId);
  }

  saveTask(rec: TaskRecord): void {
    writeAtomic(join(this.dir, 'tasks', `${rec.info.task_id}.json`), JSON.stringify(rec), false);
  }

  removeTask(taskId: string): void {
    rmSync(join(this.dir, 'tasks', `${taskId}.json`), { force: true });
  }

  /** Every checkpointed task; an unreadable record is reported, not silently dropped. */
  loadTasks(onBad: (err: WorkDirError) => void): TaskRecord[] {
    const dir = join(this.dir, 'tasks');
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: TaskRecord[] = [];
    for (const n of names.sort()) {
      try {
        const rec = this.readJson(join(dir, n)) as TaskRecord;
        if (!rec?.info?.task_id || !rec.state) throw new WorkDirError(join(dir, n), 'not a task record');
        out.push(rec);
      } catch (e) {
        onBad(e instanceof WorkDirError ? e : new WorkDirError(join(dir, n), (e as Error).message));
      }
    }
    return out;
  }

  private readJson(path: string): unknown {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new WorkDirError(path, `corrupt JSON: ${(e as Error).message}`);
    }
  }
}

function writeAtomic(path: string, text: string, durable: boolean, mode = 0o644): void {
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
