/**
 * Record generation from master state, rule for rule as mesos-dns v0.7 (records/generator.go):
 * frameworks, agents, the listener (SOA mname), masters and leader, then tasks. Where mesos-dns is
 * fragile we are not: hostnames resolve through a cache filled beforehand (unresolved: skipped and
 * reported), masters given as hostnames do not crash, over-long canonical labels are shortened.
 */
import * as crypto from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { hashString, zbase32 } from './hash.js';
import { domainFrag, rfc1123, rfc952, type LabelSpec } from './labels.js';
import { RecordSet, type Kind } from './recordset.js';
import { drain, drainAsync, splitHostPort, taskIPs, type State, type Task } from './state.js';

export interface GeneratorConfig {
  domain: string;
  /** SOA mname (the listener's name), trailing dot optional. */
  soaMname: string;
  listener: string;
  masters: string[];
  ipSources: string[];
  enforceRFC952: boolean;
}

export interface GeneratorEnv {
  /** Hostname -> IPs, resolved before generation (see hostnamesIn). */
  hosts?: ReadonlyMap<string, string[]>;
  /** Non-loopback local addresses, for listener 0.0.0.0. */
  localAddresses?: string[];
  /** Called for every record or object skipped, with why. */
  warn?: (why: string) => void;
}

/** Strict dotted-quad check without allocating (the common case). */
function isDottedQuad(ip: string): boolean {
  let parts = 0;
  let n = -1;
  let digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i === ip.length ? 46 : ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || n > 255 || (digits > 1 && ip.charCodeAt(i - digits) === 48)) return false;
      parts++;
      n = -1;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      n = (n < 0 ? 0 : n * 10) + (c - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return parts === 4;
}

/** Canonical text and kind of an IP literal (IPv4-mapped IPv6 counts as IPv4, like Go's To4). */
export function ipKind(ip: string): { kind: 'A' | 'AAAA'; text: string } | undefined {
  if (isDottedQuad(ip)) return { kind: 'A', text: ip };
  if (!ip.includes(':') || !ipaddr.IPv6.isValid(ip)) return undefined;
  let v6: ipaddr.IPv6;
  try {
    v6 = ipaddr.IPv6.parse(ip);
  } catch {
    return undefined;
  }
  if (v6.isIPv4MappedAddress()) return { kind: 'A', text: v6.toIPv4Address().toString() };
  return { kind: 'AAAA', text: v6.toRFC5952String() };
}

type IP = { kind: 'A' | 'AAAA'; text: string };

/** What the tasks of one agent share: its IPs (text and kinds) and the tail of its ID. */
interface Agent {
  ips: string[];
  kinds: IP[];
  tail: string;
}

/** Names shared by the tasks of one (framework, task name) pair: A, A under slave, SRV names. */
interface Shared {
  taskName: string;
  fname: string;
  arecName: string;
  arecSlave: string;
  srv: string[];
}

/** Per task, computed once for both name forms of a task with DiscoveryInfo. */
interface TaskCtx {
  hash: string;
  agent: Agent;
  ips: IP[];
}

class Gen {
  readonly rs = new RecordSet();
  readonly agents = new Map<string, Agent>();
  readonly spec: LabelSpec;
  readonly tail: string;
  readonly slaveTail: string;
  constructor(
    readonly cfg: GeneratorConfig,
    readonly env: GeneratorEnv,
  ) {
    this.spec = cfg.enforceRFC952 ? rfc952 : rfc1123;
    this.tail = '.' + cfg.domain;
    this.slaveTail = '.slave' + this.tail;
  }

  warn(why: string): void {
    this.env.warn?.(why);
  }

  hostIPs(host: string): { kind: 'A' | 'AAAA'; text: string }[] {
    const lit = ipKind(host);
    if (lit) return [lit];
    const ips = (this.env.hosts?.get(host) ?? []).map(ipKind).filter((x) => x !== undefined);
    if (!ips.length) this.warn(`cannot resolve host ${JSON.stringify(host)}`);
    return ips;
  }

  insert(kind: Kind, name: string, value: string): void {
    this.rs.add(kind, name, value);
  }

  frameworks(state: State): void {
    for (const f of state.frameworks) {
      const host = f.pid ? f.pid.host : f.hostname;
      const ips = host ? this.hostIPs(host) : [];
      if (!ips.length) continue;
      const name = domainFrag(f.name, this.spec) + this.tail;
      for (const ip of ips) this.insert(ip.kind, name, ip.text);
      if (f.pid) this.insert('SRV', '_framework._tcp.' + name, `${name}:${f.pid.port}`);
    }
  }

  slaves(state: State): void {
    const name = 'slave' + this.tail;
    for (const s of state.slaves) {
      const ips = this.hostIPs(s.pid.host);
      for (const ip of ips) this.insert(ip.kind, name, ip.text);
      if (ips.length) this.insert('SRV', '_slave._tcp' + this.tail, `${name}:${s.pid.port}`);
      else this.warn(`agent ${s.id}: host ${s.pid.host} has no IP, its tasks get no slave records`);
      this.agents.set(s.id, { ips: ips.map((i) => i.text), kinds: ips, tail: slaveTail(s.id) });
    }
  }

  listener(): void {
    const ns = this.cfg.soaMname.replace(/\.$/, '').toLowerCase();
    if (this.cfg.listener === '0.0.0.0') {
      for (const a of this.env.localAddresses ?? []) {
        const k = ipKind(a);
        if (k) this.insert(k.kind, ns, k.text);
      }
      return;
    }
    const k = ipKind(this.cfg.listener);
    if (k) this.insert(k.kind, ns, k.text);
  }

  masters(leader: string): void {
    const at = leader.split('@');
    if (at.length < 2) return this.warn(`leader ${JSON.stringify(leader)} has no @`);
    const leaderAddr = at[1]!;
    const hp = splitHostPort(leaderAddr);
    const lip = hp ? ipKind(hp.host) ?? this.hostIPs(hp.host)[0] : undefined;
    if (!hp || !lip) return this.warn(`leader address ${JSON.stringify(leaderAddr)} is not ip:port`);
    const d = this.tail;
    this.insert(lip.kind, 'leader' + d, lip.text);
    this.insert(lip.kind, 'master' + d, lip.text);
    this.insert('SRV', '_leader._tcp' + d, `leader${d}:${hp.port}`);
    this.insert('SRV', '_leader._udp' + d, `leader${d}:${hp.port}`);
    let leaderAdded = false;
    let idx = 0;
    for (const m of this.cfg.masters) {
      const mhp = splitHostPort(m);
      const mip = mhp ? this.hostIPs(mhp.host)[0] : undefined;
      if (!mip) {
        this.warn(`master ${JSON.stringify(m)} is not a resolvable host:port`);
        continue;
      }
      const isLeader = m === leaderAddr;
      if (!isLeader && !this.rs.add(mip.kind, 'master' + d, mip.text)) continue;
      if (isLeader && leaderAdded) continue;
      this.insert(mip.kind, `master${idx}${d}`, mip.text);
      idx++;
      if (isLeader) leaderAdded = true;
    }
    if (!leaderAdded) this.insert(lip.kind, `master${idx}${d}`, lip.text);
  }

  /** The tasks' records, as steps: yields every 64 tasks. */
  *tasks(state: State): Generator<void, void, void> {
    for (const f of state.frameworks) {
      this.rs.beginFramework(f.name);
      const fname = domainFrag(f.name, this.spec);
      // The tasks of one app share their non-canonical names: build them once per task name.
      const byName = new Map<string, Shared>();
      let n = 0;
      for (const t of f.tasks) {
        if ((++n & 63) === 0) yield;
        const agent = this.agents.get(t.slaveId);
        if (!agent || t.state !== 'TASK_RUNNING') continue;
        if (t.discovery) {
          this.task(t, agent, [this.shared(fname, t.discovery.name, true), this.shared(fname, this.spec(t.discovery.name), true)]);
          continue;
        }
        let sh = byName.get(t.name);
        if (!sh) byName.set(t.name, (sh = this.shared(fname, this.spec(t.name), false)));
        this.task(t, agent, [sh]);
      }
    }
  }

  shared(fname: string, taskName: string, discovery: boolean): Shared {
    const { tail, slaveTail } = this;
    const arec = taskName + '.' + fname;
    const tcp = `_${taskName}._tcp.${fname}`;
    const udp = `_${taskName}._udp.${fname}`;
    const srv = discovery ? [tcp + slaveTail, udp + slaveTail] : [tcp + slaveTail, udp + slaveTail, tcp + tail, udp + tail];
    return { taskName, fname, arecName: arec + tail, arecSlave: arec + slaveTail, srv };
  }

  task(t: Task, agent: Agent, forms: Shared[]): void {
    this.rs.beginTask(t.name, t.id);
    const ips: IP[] = [];
    for (const ip of taskIPs(t, this.cfg.ipSources, agent.ips)) {
      const k = ipKind(ip);
      if (k) ips.push(k);
    }
    const ctx: TaskCtx = { hash: taskHash(t.id), agent, ips };
    for (const sh of forms) this.taskNames(t, sh, ctx);
  }

  taskNames(t: Task, sh: Shared, ctx: TaskCtx): void {
    const rs = this.rs;
    const { taskName, fname } = sh;
    const tail = this.tail;
    const canonical = canonicalLabel(taskName, ctx.hash, ctx.agent.tail) + '.' + fname;
    if (ctx.ips.length) {
      const canonicalName = canonical + tail;
      for (const k of ctx.ips) {
        rs.addTask(k.kind, sh.arecName, k.text);
        rs.addTask(k.kind, canonicalName, k.text);
      }
    }
    const slaveHost = canonical + this.slaveTail;
    for (const k of ctx.agent.kinds) {
      rs.addTask(k.kind, sh.arecSlave, k.text);
      rs.addTask(k.kind, slaveHost, k.text);
    }
    for (const port of t.ports) {
      const target = slaveHost + ':' + port;
      for (const n of sh.srv) rs.addTask('SRV', n, target);
    }
    if (!t.discovery) return;
    for (const p of t.discovery.ports) {
      const target = `${canonical}${tail}:${p.number}`;
      const proto = this.spec(p.protocol);
      const names = proto ? [`_${taskName}._${proto}.${fname}`] : [`_${taskName}._tcp.${fname}`, `_${taskName}._udp.${fname}`];
      const portName = this.spec(p.name);
      for (const n of names) {
        rs.addTask('SRV', n + tail, target);
        if (portName) rs.addTask('SRV', `_${portName}.${n}${tail}`, target);
      }
    }
  }
}

export function slaveTail(id: string): string {
  const f = id.split('-');
  return f[f.length - 1]!.toLowerCase();
}

const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
const hashMemo = new Map<string, string>();

/**
 * hashString(id), memoized across generations (task IDs are stable while the tasks run) and
 * computed with the one-shot crypto.hash where Node has it. The 5 characters need 25 bits: the
 * first 4 digest bytes.
 */
export function taskHash(id: string): string {
  let h = hashMemo.get(id);
  if (h !== undefined) return h;
  h = oneShot ? zbase32(oneShot('sha1', id, 'buffer').subarray(0, 4)).slice(0, 5) : hashString(id);
  if (hashMemo.size >= 200_000) hashMemo.clear();
  hashMemo.set(id, h);
  return h;
}

/**
 * `<task>-<hash>-<agent tail>`; when its last label would pass 63 bytes (mesos-dns then cannot
 * encode the SRV target and answers nothing), the task part is cut so the label is exactly 63.
 */
export function canonicalLabel(taskName: string, hash: string, slave: string): string {
  const suffix = `-${hash}-${slave}`;
  const dot = taskName.lastIndexOf('.');
  const head = dot >= 0 ? taskName.slice(0, dot + 1) : '';
  const last = dot >= 0 ? taskName.slice(dot + 1) : taskName;
  if (last.length + suffix.length <= 63) return taskName + suffix;
  return head + last.slice(0, Math.max(0, 63 - suffix.length)) + suffix;
}

/** Generate every record for a state. Pure: hostname resolution comes in through env.hosts. */
export function generateRecords(state: State, cfg: GeneratorConfig, env: GeneratorEnv = {}): RecordSet {
  return drain(generateSteps(state, cfg, env));
}

/**
 * generateRecords in slices of about `sliceMs`, yielding to the event loop in between so queries
 * keep being answered while a big record set is built; the result is the same record set. The
 * state and env must not change until the promise settles.
 */
export function generateRecordsAsync(state: State, cfg: GeneratorConfig, env: GeneratorEnv = {}, sliceMs = 1): Promise<RecordSet> {
  return drainAsync(generateSteps(state, cfg, env), sliceMs);
}

function* generateSteps(state: State, cfg: GeneratorConfig, env: GeneratorEnv): Generator<void, RecordSet, void> {
  const g = new Gen({ ...cfg, domain: cfg.domain.toLowerCase() }, env);
  g.frameworks(state);
  g.slaves(state);
  g.listener();
  g.masters(state.leader);
  yield* g.tasks(state);
  return g.rs;
}
