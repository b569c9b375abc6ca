/**
 * Parse `/master/state` JSON into the few fields Mesos-DNS uses. Whole-state problems (not an
 * object, no leader) throw StateError so the caller keeps its old records; a bad agent or task is
 * dropped with a warning instead of rejecting everything (mesos-dns rejects the whole state).
 */
import { isIP } from 'node:net';
import { SextantError } from '../../common/errors.js';

export class StateError extends SextantError {}

export interface Pid {
  id: string;
  host: string;
  port: string;
}

export interface Status {
  state: string;
  timestamp: number;
  labels: { key: string; value: string }[];
  /** IPs of container_status.network_infos (ip_addresses, or the 0.25 ip_address fallback). */
  netinfo: string[];
}

export interface DiscoveryPort {
  number: number;
  protocol: string;
  name: string;
}

export interface Task {
  id: string;
  name: string;
  slaveId: string;
  state: string;
  statuses: Status[];
  ports: string[];
  discovery?: { name: string; ports: DiscoveryPort[] };
}

export interface Framework {
  name: string;
  hostname: string;
  pid?: Pid;
  tasks: Task[];
}

export interface Slave {
  id: string;
  pid: Pid;
}

export interface State {
  leader: string;
  frameworks: Framework[];
  slaves: Slave[];
  /** Why parts of the state were skipped (for logs). */
  warnings: string[];
}

/** Split `host:port` or `[v6]:port`; undefined when malformed. */
export function splitHostPort(s: string): { host: string; port: string } | undefined {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(s) ?? /^([^:[\]]*):([^:]*)$/.exec(s);
  if (!m) return undefined;
  return { host: m[1]!, port: m[2]! };
}

/** `id@host:port` (surrounding spaces allowed). */
export function parsePid(s: unknown): Pid | undefined {
  if (typeof s !== 'string') return undefined;
  const parts = s.trim().split('@');
  if (parts.length !== 2) return undefined;
  const hp = splitHostPort(parts[1]!);
  if (!hp || !hp.host || !/^\d+$/.test(hp.port) || Number(hp.port) > 65535) return undefined;
  return { id: parts[0]!, host: hp.host, port: hp.port };
}

/** Mesos port ranges `"[31111-31111, 31115-31117]"` (or a list of [lo, hi]) to port strings. */
export function parsePorts(v: unknown): string[] {
  if (typeof v === 'string') {
    const fast = parsePortsFast(v);
    if (fast) return fast;
  }
  return parsePortsSlow(v);
}

/** Digits from `i` (at most 9): value and end, or undefined when there are none. */
function digitsAt(s: string, i: number): { n: number; end: number } | undefined {
  let n = 0;
  let j = i;
  for (; j < s.length && j - i < 10; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return j === i || j - i > 9 ? undefined : { n, end: j };
}

/**
 * The form Mesos writes, `[lo-hi]` or `[lo-hi, lo-hi]`, scanned without regexes or splits.
 * Anything else returns undefined and goes through parsePortsSlow (same results, slower).
 */
function parsePortsFast(v: string): string[] | undefined {
  const last = v.length - 1;
  if (last < 0 || v.charCodeAt(0) !== 91 || v.charCodeAt(last) !== 93) return undefined;
  const out: string[] = [];
  let i = 1;
  if (i === last) return out;
  for (;;) {
    while (v.charCodeAt(i) === 32) i++;
    const lo = digitsAt(v, i);
    if (!lo || v.charCodeAt(lo.end) !== 45) return undefined;
    const hi = digitsAt(v, lo.end + 1);
    if (!hi) return undefined;
    i = hi.end;
    while (v.charCodeAt(i) === 32) i++;
    if (hi.n <= 65535 && hi.n - lo.n <= 65535) for (let p = lo.n; p <= hi.n; p++) out.push(String(p));
    if (i === last) return out;
    if (v.charCodeAt(i) !== 44) return undefined;
    i++;
  }
}

function parsePortsSlow(v: unknown): string[] {
  const out: string[] = [];
  const add = (lo: number, hi: number) => {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > 65535 || hi - lo > 65535) return;
    for (let p = lo; p <= hi; p++) out.push(String(p));
  };
  if (Array.isArray(v)) {
    for (const r of v) if (Array.isArray(r)) add(Number(r[0]), Number(r[1]));
    return out;
  }
  if (typeof v !== 'string' || v === '' || v === '[]') return out;
  const inner = v.replace(/^\s*\[/, '').replace(/\]\s*$/, '');
  for (const part of inner.split(',')) {
    const [lo, hi] = part.trim().split('-');
    if (lo === undefined || hi === undefined || !/^\d+$/.test(lo) || !/^\d+$/.test(hi)) continue;
    add(Number(lo), Number(hi));
  }
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Shared by every status without labels (parsed state is never mutated). */
const NO_LABELS: Status['labels'] = [];

function parseStatus(v: unknown): Status {
  const s = obj(v);
  const netinfo: string[] = [];
  for (const ni of arr(obj(s.container_status).network_infos)) {
    const n = obj(ni);
    const addrs = arr(n.ip_addresses);
    if (addrs.length) for (const a of addrs) netinfo.push(str(obj(a).ip_address));
    else if (str(n.ip_address)) netinfo.push(str(n.ip_address));
  }
  const rawLabels = arr(s.labels);
  const labels = rawLabels.length ? rawLabels.map((l) => ({ key: str(obj(l).key), value: str(obj(l).value) })) : NO_LABELS;
  return { state: str(s.state), timestamp: typeof s.timestamp === 'number' ? s.timestamp : 0, labels, netinfo };
}

function parseTask(v: unknown): Task {
  const t = obj(v);
  const d = obj(t.discovery);
  const task: Task = {
    id: str(t.id),
    name: str(t.name),
    slaveId: str(t.slave_id),
    state: str(t.state),
    statuses: arr(t.statuses).map(parseStatus),
    ports: parsePorts(obj(t.resources).ports),
  };
  if (str(d.name)) {
    const ports = arr(obj(d.ports).ports).map((p) => {
      const o = obj(p);
      return { number: typeof o.number === 'number' ? o.number : 0, protocol: str(o.protocol), name: str(o.name) };
    });
    task.discovery = { name: str(d.name), ports };
  }
  return task;
}

export function parseState(json: unknown): State {
  return drain(parseSteps(json));
}

/**
 * parseState in slices of about `sliceMs` of CPU, yielding to the event loop in between (a big
 * state must not stall DNS answers). The state object must not change until the promise settles.
 */
export function parseStateAsync(json: unknown, sliceMs = 1): Promise<State> {
  return drainAsync(parseSteps(json), sliceMs);
}

/** parseState as steps: yields every 256 tasks, returns the state. */
function* parseSteps(json: unknown): Generator<void, State, void> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new StateError('state is not a JSON object');
  const s = json as Record<string, unknown>;
  if (s.frameworks !== undefined && !Array.isArray(s.frameworks)) throw new StateError('state.frameworks is not a list');
  if (s.slaves !== undefined && !Array.isArray(s.slaves)) throw new StateError('state.slaves is not a list');
  const leader = str(s.leader);
  if (!leader) throw new StateError('state has no leader (empty master)');
  const warnings: string[] = [];
  const slaves: Slave[] = [];
  arr(s.slaves).forEach((v, i) => {
    const o = obj(v);
    const pid = parsePid(o.pid);
    if (!pid) warnings.push(`slaves[${i}] (${str(o.id)}): bad pid ${JSON.stringify(o.pid)}, agent skipped`);
    else slaves.push({ id: str(o.id), pid });
  });
  const frameworks: Framework[] = [];
  const raw = arr(s.frameworks);
  for (let i = 0; i < raw.length; i++) {
    const o = obj(raw[i]);
    const pid = o.pid === undefined || o.pid === null || o.pid === '' ? undefined : parsePid(o.pid);
    if (o.pid && !pid) warnings.push(`frameworks[${i}] (${str(o.name)}): bad pid ${JSON.stringify(o.pid)}, using hostname`);
    const tasks: Task[] = [];
    frameworks.push({ name: str(o.name), hostname: str(o.hostname), pid, tasks });
    const rawTasks = arr(o.tasks);
    for (let j = 0; j < rawTasks.length; j++) {
      tasks.push(parseTask(rawTasks[j]));
      if ((j & 255) === 255) yield;
    }
  }
  return { leader, frameworks, slaves, warnings };
}

/** Run steps to the end at once. */
export function drain<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Run steps, giving the event loop a turn whenever a slice has used `sliceMs`. */
export async function drainAsync<T>(steps: Generator<void, T, void>, sliceMs: number): Promise<T> {
  let until = performance.now() + sliceMs;
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() < until) continue;
    await new Promise<void>((resolve) => setImmediate(resolve));
    until = performance.now() + sliceMs;
  }
}

/** Hostnames (not IP literals) the generator will need resolved. */
export function hostnamesIn(state: State, masters: string[]): string[] {
  const out = new Set<string>();
  const add = (h: string | undefined) => {
    if (h && !isIP(h)) out.add(h);
  };
  for (const s of state.slaves) add(s.pid.host);
  for (const f of state.frameworks) add(f.pid ? f.pid.host : f.hostname);
  add(splitHostPort(state.leader.split('@')[1] ?? '')?.host);
  for (const m of masters) add(splitHostPort(m)?.host);
  return [...out];
}

const LATEST_SOURCES: Record<string, (s: Status) => string[]> = {
  netinfo: (s) => s.netinfo,
  docker: (s) => s.labels.filter((l) => l.key === 'Docker.NetworkSettings.IPAddress').map((l) => l.value),
  mesos: (s) => s.labels.filter((l) => l.key === 'MesosContainerizer.NetworkSettings.IPAddress').map((l) => l.value),
};

function latestRunning(t: Task): Status | undefined {
  let best: Status | undefined;
  for (const s of t.statuses) if (s.state === 'TASK_RUNNING' && (!best || s.timestamp > best.timestamp)) best = s;
  return best;
}

/** Task IPs by IPSources: the first source that yields any valid IP wins (all its IPs). */
export function taskIPs(t: Task, sources: string[], slaveIPs: string[]): string[] {
  const latest = latestRunning(t);
  for (const src of sources) {
    let raw: string[] = [];
    if (src === 'host') raw = slaveIPs;
    else if (LATEST_SOURCES[src] && latest) raw = LATEST_SOURCES[src]!(latest);
    const ips = raw.filter((ip) => isIP(ip) !== 0);
    if (ips.length) return ips;
  }
  return [];
}
