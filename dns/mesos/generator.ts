/**
 * Record generation from master state, rule for rule as mesos-dns v0.7 (records/generator.go):
 * frameworks, agents, the listener (SOA mname), masters and leader, then tasks. Where mesos-dns is
 * fragile we are not: hostnames resolve through a cache filled beforehand (unresolved: skipped and
 * reported), masters given as hostnames do not crash, over-long canonical labels are shortened.
 */
import ipaddr from 'ipaddr.js';
import { hashString } from './hash.js';
import { domainFrag, rfc1123, rfc952, type LabelSpec } from './labels.js';
import { RecordSet, type EnumFramework, type EnumTask, type Kind } from './recordset.js';
import { splitHostPort, taskIPs, type State, type Task } from './state.js';

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

class Gen {
  readonly rs = new RecordSet();
  readonly slaveIPs = new Map<string, string[]>();
  readonly spec: LabelSpec;
  readonly tail: string;
  constructor(
    readonly cfg: GeneratorConfig,
    readonly env: GeneratorEnv,
  ) {
    this.spec = cfg.enforceRFC952 ? rfc952 : rfc1123;
    this.tail = '.' + cfg.domain;
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

  insert(kind: Kind, name: string, value: string, task?: EnumTask): void {
    if (this.rs.add(kind, name, value) && task) task.records.push({ name: name + '.', host: kind === 'SRV' ? srvHostDot(value) : value, rtype: kind });
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
      this.slaveIPs.set(s.id, ips.map((i) => i.text));
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

  tasks(state: State, out: EnumFramework[]): void {
    for (const f of state.frameworks) {
      const ef: EnumFramework = { name: f.name, tasks: [] };
      out.push(ef);
      const fname = domainFrag(f.name, this.spec);
      for (const t of f.tasks) {
        const slaveIPs = this.slaveIPs.get(t.slaveId);
        if (slaveIPs && t.state === 'TASK_RUNNING') this.task(t, fname, slaveIPs, ef);
      }
    }
  }

  task(t: Task, fname: string, slaveIPs: string[], ef: EnumFramework): void {
    const et: EnumTask = { name: t.name, id: t.id, records: [] };
    ef.tasks.push(et);
    const ctx = { hash: hashString(t.id), slave: slaveTail(t.slaveId), ips: taskIPs(t, this.cfg.ipSources, slaveIPs), slaveIPs };
    if (t.discovery) {
      this.taskNames(t, fname, t.discovery.name, ctx, et);
      this.taskNames(t, fname, this.spec(t.discovery.name), ctx, et);
    } else this.taskNames(t, fname, this.spec(t.name), ctx, et);
  }

  taskNames(t: Task, fname: string, taskName: string, ctx: { hash: string; slave: string; ips: string[]; slaveIPs: string[] }, et: EnumTask): void {
    const tail = this.tail;
    const canonical = canonicalLabel(taskName, ctx.hash, ctx.slave) + '.' + fname;
    const arec = taskName + '.' + fname;
    for (const ip of ctx.ips) {
      const k = ipKind(ip);
      if (!k) continue;
      this.insert(k.kind, arec + tail, k.text, et);
      this.insert(k.kind, canonical + tail, k.text, et);
    }
    for (const ip of ctx.slaveIPs) {
      const k = ipKind(ip)!;
      this.insert(k.kind, arec + '.slave' + tail, k.text, et);
      this.insert(k.kind, canonical + '.slave' + tail, k.text, et);
    }
    const slaveHost = canonical + '.slave' + tail;
    const subdomains = t.discovery ? ['.slave'] : ['.slave', ''];
    if (t.ports.length) {
      const names: string[] = [];
      for (const sub of subdomains) for (const proto of ['_tcp', '_udp']) names.push(`_${taskName}.${proto}.${fname}${sub}${tail}`);
      for (const port of t.ports) {
        const target = `${slaveHost}:${port}`;
        for (const n of names) this.insert('SRV', n, target, et);
      }
    }
    if (!t.discovery) return;
    for (const p of t.discovery.ports) {
      const target = `${canonical}${tail}:${p.number}`;
      const proto = this.spec(p.protocol);
      const names = proto ? [`_${taskName}._${proto}.${fname}`] : [`_${taskName}._tcp.${fname}`, `_${taskName}._udp.${fname}`];
      const portName = this.spec(p.name);
      for (const n of names) {
        this.insert('SRV', n + tail, target, et);
        if (portName) this.insert('SRV', `_${portName}.${n}${tail}`, target, et);
      }
    }
  }
}

function srvHostDot(v: string): string {
  const i = v.lastIndexOf(':');
  return `${v.slice(0, i)}.:${v.slice(i + 1)}`;
}

export function slaveTail(id: string): string {
  const f = id.split('-');
  return f[f.length - 1]!.toLowerCase();
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
  const g = new Gen({ ...cfg, domain: cfg.domain.toLowerCase() }, env);
  g.frameworks(state);
  g.slaves(state);
  g.listener();
  g.masters(state.leader);
  g.tasks(state, g.rs.frameworks);
  return g.rs;
}
