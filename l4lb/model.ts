/**
 * The VIP model: which VIPs the cluster asks for and their backends, derived from the Mesos state
 * JSON (`/master/state`). Pure; bad labels are returned as problems and skipped, never fatal.
 */
import type { Protocol, VipBackend } from '../contracts/index.js';
import { VipLabelError } from './errors.js';
import { isVipPortLabel, parseProtocol, parseVipPortLabel, parseVipValue, vipPortLabelIndex, type VipTarget } from './labels.js';

export const L4LB_DOMAIN = 'l4lb.thisdcos.directory';

/** A VIP before IP allocation: named VIPs have `label`+`framework`, IP VIPs have `ip`. */
export interface VipSpec {
  /** Stable identity: `tcp/web.marathon:80/4` for named, `tcp/1.2.3.4:80` for IP VIPs. */
  id: string;
  label?: string;
  framework?: string;
  ip?: string;
  family: 4 | 6;
  port: number;
  protocol: Protocol;
  backends: VipBackend[];
}

export interface LabelProblem {
  where: string;
  key: string;
  value: string;
  reason: string;
}

interface Label {
  key: string;
  value: string;
}
type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function labelsOf(v: unknown): Label[] {
  const o = asObj(v);
  const list = Array.isArray(v) ? v : asArr(o.labels);
  return list.map(asObj).flatMap((l) => (typeof l.key === 'string' ? [{ key: l.key, value: String(l.value ?? '') }] : []));
}

/** `slave(1)@10.0.0.1:5051` -> `10.0.0.1`; falls back to hostname. */
export function agentIps(state: Obj): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of asArr(state.slaves).map(asObj)) {
    const id = str(s.id);
    if (!id) continue;
    const m = /@(\[[^\]]+\]|[^:]+):\d+$/.exec(str(s.pid) ?? '');
    const ip = m ? m[1]!.replace(/^\[|\]$/g, '') : str(s.hostname);
    if (ip) out.set(id, ip);
  }
  return out;
}

/** The newest status (by timestamp), where health and container IPs live. */
function latestStatus(task: Obj): Obj {
  const sts = asArr(task.statuses).map(asObj);
  return sts.reduce<Obj>((a, b) => (Number(b.timestamp ?? 0) >= Number(a.timestamp ?? 0) ? b : a), {});
}

/** 1 running+healthy (or no check), 0 draining, undefined = not a backend. */
export function backendWeight(task: Obj): number | undefined {
  const state = str(task.state);
  if (state === 'TASK_KILLING') return 0;
  if (state !== 'TASK_RUNNING') return undefined;
  const st = latestStatus(task);
  const healthy = typeof st.healthy === 'boolean' ? st.healthy : typeof task.healthy === 'boolean' ? task.healthy : undefined;
  if (healthy === true) return 1;
  if (healthy === false) return 0;
  return task.health_check || task.health_checks ? 0 : 1;
}

/** Container IPs from the newest status that has network_infos. */
function taskNetwork(task: Obj): { ips: string[]; named: boolean } {
  const sts = asArr(task.statuses).map(asObj).sort((a, b) => Number(b.timestamp ?? 0) - Number(a.timestamp ?? 0));
  for (const st of sts) {
    const infos = asArr(asObj(st.container_status).network_infos).map(asObj);
    const ips = infos.flatMap((n) => asArr(n.ip_addresses).map(asObj).flatMap((a) => str(a.ip_address) ?? []));
    if (ips.length) return { ips, named: infos.some((n) => typeof n.name === 'string' && n.name !== '') };
  }
  return { ips: [], named: false };
}

interface Want {
  target: VipTarget;
  protocol: Protocol;
  /** The port number the backend listens on (host port, or container port on a network). */
  number: number;
  scope?: string;
}

function portWants(task: Obj, where: string, problems: LabelProblem[]): Want[] {
  const ports = asArr(asObj(asObj(task.discovery).ports).ports).map(asObj);
  const wants: Want[] = [];
  ports.forEach((p, i) => {
    const labels = labelsOf(p.labels);
    const scope = labels.find((l) => l.key === 'network-scope')?.value;
    for (const l of labels.filter((x) => isVipPortLabel(x.key))) {
      const w = `${where} port[${i}]`;
      try {
        const protocol = parseProtocol(str(p.protocol), w, l.key, l.value);
        wants.push({ target: parseVipValue(l.value, w, l.key), protocol, number: Number(p.number), scope });
      } catch (e) {
        problems.push(problem(e));
      }
    }
  });
  for (const l of labelsOf(task.labels)) {
    const idx = vipPortLabelIndex(l.key);
    if (idx === undefined) continue;
    try {
      const t = parseVipPortLabel(l.value, where, l.key);
      const number = Number(ports[idx]?.number ?? hostPorts(task)[idx]);
      if (!Number.isInteger(number) || number <= 0) throw new VipLabelError(where, l.key, l.value, `the task has no port ${idx}`);
      wants.push({ target: t, protocol: t.protocol, number });
    } catch (e) {
      problems.push(problem(e));
    }
  }
  return wants;
}

/** `[31000-31001, 31005-31005]` -> [31000, 31001, 31005]. */
function hostPorts(task: Obj): number[] {
  const r = str(asObj(task.resources).ports) ?? '';
  const out: number[] = [];
  for (const m of r.matchAll(/(\d+)-(\d+)/g)) for (let p = Number(m[1]); p <= Number(m[2]) && out.length < 1000; p++) out.push(p);
  return out;
}

function problem(e: unknown): LabelProblem {
  if (e instanceof VipLabelError) return { where: e.where, key: e.key, value: e.value, reason: e.reason };
  throw e;
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** Derive every VIP with its backends; VIPs are keyed by their spec id and sorted. */
export function vipsFromState(state: Obj): { vips: VipSpec[]; problems: LabelProblem[] } {
  const agents = agentIps(state);
  const problems: LabelProblem[] = [];
  const specs = new Map<string, VipSpec>();
  for (const fw of asArr(state.frameworks).map(asObj)) {
    const framework = str(fw.name) ?? 'unknown';
    for (const task of asArr(fw.tasks).map(asObj)) {
      const where = `task ${str(task.id) ?? '?'} (${str(task.name) ?? '?'})`;
      const wants = portWants(task, where, problems);
      const weight = backendWeight(task);
      for (const w of wants) addWant(specs, framework, task, w, weight, agents);
    }
  }
  for (const s of specs.values()) s.backends.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
  return { vips: [...specs.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), problems };
}

function addWant(specs: Map<string, VipSpec>, framework: string, task: Obj, w: Want, weight: number | undefined, agents: Map<string, string>): void {
  const agentIp = agents.get(str(task.slave_id) ?? '');
  const net = taskNetwork(task);
  const onNetwork = w.scope === 'container' || (w.scope !== 'host' && net.named && net.ips.some((ip) => ip !== agentIp));
  const ips = onNetwork ? net.ips : agentIp ? [agentIp] : [];
  const families: (4 | 6)[] = w.target.kind === 'ip' ? [familyOf(w.target.ip)] : [4, 6];
  for (const family of families) {
    const id =
      w.target.kind === 'named' ? `${w.protocol}/${w.target.label}.${framework}:${w.target.port}/${family}` : `${w.protocol}/${w.target.ip}:${w.target.port}`;
    const backendIps = ips.filter((ip) => familyOf(ip) === family);
    let spec = specs.get(id);
    if (!spec && w.target.kind === 'named' && (weight === undefined || !backendIps.length)) continue;
    if (!spec) {
      spec =
        w.target.kind === 'named'
          ? { id, label: w.target.label, framework, family, port: w.target.port, protocol: w.protocol, backends: [] }
          : { id, ip: w.target.ip, family, port: w.target.port, protocol: w.protocol, backends: [] };
      specs.set(id, spec);
    }
    if (weight === undefined) continue;
    for (const ip of backendIps) addBackend(spec, { ip, port: w.number, weight, task_id: str(task.id) ?? '', agent_id: str(task.slave_id) ?? '' });
  }
}

function addBackend(spec: VipSpec, b: VipBackend): void {
  const same = spec.backends.find((x) => x.ip === b.ip && x.port === b.port);
  if (!same) spec.backends.push(b);
  else if (b.weight > same.weight) Object.assign(same, b);
}

export function vipDnsName(label: string, framework: string): string {
  return `${label}.${framework.toLowerCase()}.${L4LB_DOMAIN}`;
}
