/** Shared bits for the agent's unit tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskInfo, TaskState } from '../../contracts/index.js';
import { TaskRunner, type RunnerOptions } from '../runner.js';
import { WorkDir, type TaskRecord, type TaskStatusEntry } from '../workdir.js';
import { uniqueName } from '../../test/lib/index.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export function tempWorkDir(t: Teardownable): WorkDir {
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('agent')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const wd = new WorkDir(dir);
  wd.ensure();
  return wd;
}

export function taskInfo(id: string, cmd: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return {
    task_id: id,
    name: 'app',
    framework_id: 'fw-1',
    agent_id: 'agent-1',
    command: { value: cmd, shell: true },
    env: {},
    resources: { cpus: 0.1, mem: 32, disk: 0, ports: [] },
    ports: [],
    labels: [],
    kill_grace_period_ms: 2000,
    ...extra,
  };
}

/** A runner whose status updates can be awaited. */
export function recordingRunner(t: Teardownable, opts: Partial<RunnerOptions> & { workDir: WorkDir }) {
  const runner = new TaskRunner({ agentIp: '127.0.0.1', ...opts });
  const seen: { id: string; entry: TaskStatusEntry }[] = [];
  const waiters = new Set<() => void>();
  runner.onStatus = (rec: TaskRecord, entry) => {
    seen.push({ id: rec.info.task_id, entry });
    for (const w of [...waiters]) w();
  };
  t.teardown(async () => {
    await runner.killAll(0, 5000);
    runner.stop();
  });
  const until = (id: string, pred: (e: TaskStatusEntry) => boolean, timeoutMs = 10000) =>
    new Promise<TaskStatusEntry>((resolve, reject) => {
      const check = () => {
        const hit = seen.find((s) => s.id === id && pred(s.entry));
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit.entry);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${id}; saw ${JSON.stringify(seen.filter((s) => s.id === id).map((s) => s.entry.state))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const untilState = (id: string, state: TaskState, timeoutMs?: number) => until(id, (e) => e.state === state, timeoutMs);
  const states = (id: string) => seen.filter((s) => s.id === id).map((s) => s.entry.state);
  return { runner, seen, until, untilState, states };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
