/**
 * Finding a task's sandbox file and reading it, as `dcos task log` did: the master's
 * /master/state names the task's agent, and that agent's `/files/read` serves slices of
 * `/<task_id>/stdout` (or stderr) by byte offset, directly or, behind an entry point, through
 * the master's `/agent/<id>/files/read` (a token with `dcos:adminrouter:ops:slave` read).
 * A master under mutual TLS (https) means agents under it too: directly, the agent is asked over
 * https and wants the operator's client certificate (`--cert/--key`, `sextant up`'s `cli_cert`).
 */
import { ApiError, type ClusterClient } from '../common/cli-client.js';
import { CommandFailed } from '../common/cli-command.js';

interface StateTask {
  id: string;
  slave_id: string;
  state: string;
}
interface MasterState {
  slaves: { id: string; pid: string }[];
  frameworks: { tasks: StateTask[]; completed_tasks: StateTask[] }[];
  completed_frameworks?: { tasks?: StateTask[]; completed_tasks?: StateTask[] }[];
}

export interface SandboxFile {
  taskId: string;
  agentId: string;
  /** Base URL of the agent's API (through the entry point when there is one). */
  agent: string;
  path: string;
}

/** The one task whose id is `want`, or the only one whose id contains it; else a CommandFailed saying why. */
export function pickTask<T extends { id: string }>(tasks: T[], want: string): T {
  const exact = tasks.find((t) => t.id === want);
  if (exact) return exact;
  const some = [...new Map(tasks.filter((t) => t.id.includes(want)).map((t) => [t.id, t])).values()];
  if (some.length === 1) return some[0]!;
  if (!some.length) throw new CommandFailed(`no task matches '${want}' (sextant task ls lists them)`);
  throw new CommandFailed(`'${want}' matches ${some.length} tasks: ${some.slice(0, 5).map((t) => t.id).join(', ')}${some.length > 5 ? ', ...' : ''}; give more of the id`);
}

/** `slave(1)@IP:PORT` -> `http://IP:PORT` (or https: agents speak what their master speaks). */
export function agentUrlFromPid(pid: string, scheme: 'http' | 'https' = 'http'): string {
  const m = /@(.+)$/.exec(pid);
  if (!m) throw new CommandFailed(`the master gave the agent pid '${pid}', which names no address`);
  return `${scheme}://${m[1]}`;
}

export async function findSandboxFile(client: ClusterClient, want: string, file: 'stdout' | 'stderr'): Promise<SandboxFile> {
  const st = await client.request<MasterState>('mesos', '/master/state');
  const all = [...st.frameworks, ...(st.completed_frameworks ?? [])].flatMap((f) => [...(f.tasks ?? []), ...(f.completed_tasks ?? [])]);
  const task = pickTask(all, want);
  const slave = st.slaves.find((s) => s.id === task.slave_id);
  if (!slave) throw new CommandFailed(`task ${task.id} ran on agent ${task.slave_id}, which the master no longer knows`);
  const scheme = new URL(client.base('mesos')).protocol === 'https:' ? 'https' : 'http';
  const agent = client.agentBase(slave.id, agentUrlFromPid(slave.pid, scheme));
  return { taskId: task.id, agentId: slave.id, agent, path: `/${task.id}/${file}` };
}

/** One `/files/read` slice; a missing file says whose sandbox it was. */
export async function readSlice(client: ClusterClient, f: SandboxFile, offset: number, length?: number): Promise<{ data: string; offset: number }> {
  try {
    return (await client.call(`${f.agent}/files/read`, { query: { path: f.path, offset, length } })).body as { data: string; offset: number };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw new CommandFailed(`agent ${f.agentId} has no ${f.path.split('/').pop()} for task ${f.taskId} (${e.message})`);
    throw e;
  }
}

/** The file from `from` to `until` (default: its current end), slice by slice; returns the offset after what was read. */
export async function readFrom(client: ClusterClient, f: SandboxFile, from: number, write: (data: string, offset: number) => void, until?: number): Promise<number> {
  let offset = from;
  for (let i = 0; i < 10_000 && (until === undefined || offset < until); i++) {
    const r = await readSlice(client, f, offset, until === undefined ? undefined : Math.min(until - offset, 1 << 20));
    const n = Buffer.byteLength(r.data);
    if (n === 0) break;
    write(r.data, offset);
    offset += n;
  }
  return offset;
}

/** Where the last `lines` lines of the file start, and where the file ends now (looks at most at the last MiB). */
export async function tailRange(client: ClusterClient, f: SandboxFile, lines: number): Promise<{ start: number; end: number }> {
  const { offset: size } = await readSlice(client, f, -1);
  if (lines === 0) return { start: size, end: size };
  const from = Math.max(0, size - (1 << 20));
  const r = await readSlice(client, f, from, size - from);
  const buf = Buffer.from(r.data);
  let end = buf.length;
  if (end && buf[end - 1] === 0x0a) end--;
  let seen = 0;
  for (let i = end - 1; i >= 0; i--) if (buf[i] === 0x0a && ++seen === lines) return { start: from + i + 1, end: size };
  return { start: from, end: size };
}
