/**
 * Reading the Mesos `/master/state` JSON defensively: anything malformed is skipped, never thrown,
 * so one odd task cannot take the zones part down.
 */
export interface StateTask {
  id: string;
  name: string;
  framework: string;
  agentIp: string | undefined;
  containerIps: string[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** `slave(1)@10.0.0.1:5051` / `master@10.0.0.1:5050` -> `10.0.0.1`. */
export function ipFromPid(pid: unknown): string | undefined {
  const m = /@\[?([0-9a-fA-F.:]+?)\]?:\d+$/.exec(str(pid) ?? '');
  return m?.[1];
}

/** Mesos-DNS style label: lowercase, `.`/`_` -> `-`, keep [a-z0-9-], trimmed, at most 63. */
export function sanitizeLabel(s: string): string {
  return s
    .toLowerCase()
    .replace(/[._]/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/** The IPs of the task's latest TASK_RUNNING status. */
function containerIps(task: Obj): string[] {
  const statuses = arr(task.statuses)
    .map(obj)
    .filter((s): s is Obj => !!s && s.state === 'TASK_RUNNING')
    .sort((a, b) => Number(a.timestamp ?? 0) - Number(b.timestamp ?? 0));
  const last = statuses[statuses.length - 1];
  const ips: string[] = [];
  for (const ni of arr(obj(last?.container_status)?.network_infos))
    for (const ia of arr(obj(ni)?.ip_addresses)) {
      const ip = str(obj(ia)?.ip_address);
      if (ip) ips.push(ip);
    }
  return ips;
}

/** Running tasks with their framework name, agent IP and container IPs. */
export function runningTasks(state: unknown): StateTask[] {
  const s = obj(state) ?? {};
  const agentIps = new Map<string, string>();
  for (const a of arr(s.slaves)) {
    const ao = obj(a);
    const id = str(ao?.id);
    const ip = ipFromPid(ao?.pid) ?? str(ao?.hostname);
    if (id && ip) agentIps.set(id, ip);
  }
  const out: StateTask[] = [];
  for (const f of arr(s.frameworks)) {
    const fo = obj(f);
    const framework = str(fo?.name);
    if (!fo || !framework) continue;
    for (const t of arr(fo.tasks)) {
      const to = obj(t);
      const id = str(to?.id);
      const name = str(obj(to?.discovery)?.name) ?? str(to?.name);
      if (!to || !id || !name || to.state !== 'TASK_RUNNING') continue;
      out.push({ id, name, framework, agentIp: agentIps.get(str(to.slave_id) ?? ''), containerIps: containerIps(to) });
    }
  }
  return out;
}

/** The leader's IP from `leader: "master@IP:PORT"`. */
export function leaderIp(state: unknown): string | undefined {
  return ipFromPid(obj(state)?.leader);
}
