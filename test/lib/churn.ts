/**
 * The HA fault suite's churn client (issue 25): one write at a time, without pause, through the
 * masters: Marathon apps created, scaled and deleted, apps with named VIPs (port labels), virtual
 * networks created and deleted, isolation rules added and removed. Every write is logged with its
 * outcome, as a client would have to take it:
 *  - `ack`: a 2xx answer; `by` is the master that acknowledged it (the `x-marathon-leader` header a
 *    follower's proxy adds, else the master the request went to);
 *  - `refused`: the master said no (4xx, 503, or a follower's 307 to the leader): not applied;
 *  - `unknown`: no answer (connection error, timeout), a 500, a proxy's 502/504, or a 503 saying the
 *    write may or may not have committed (the store lost ZooKeeper mid-write): it may or may not be.
 * Requests go to the leader the client believes in (`/v2/leader`, asked again after any failure,
 * 200 ms later), never through a redirect, so each write meets exactly one master. Against a secure
 * cluster (`tls`) every request presents the operator's certificate.
 *
 * verifyChurn() replays the log and compares the cluster's final state: every acknowledged write is
 * there, nothing refused is there (unless a later write made it so), nothing is there twice.
 * Entities with an `unknown` write are only checked for duplicates.
 */
import http from 'node:http';
import https from 'node:https';
import { requestJson, type ClientTls } from '../../common/http.js';

export interface ChurnMaster {
  /** The master's own address, as /v2/leader and `x-marathon-leader` name it. */
  ip: string;
  /** Where this process reaches its Mesos API and Marathon (base URLs). */
  mesos: string;
  marathon: string;
}

export type Outcome = 'ack' | 'refused' | 'unknown';
export type WriteKind = 'app-create' | 'app-scale' | 'app-delete' | 'network-create' | 'network-delete' | 'rule-add' | 'rule-remove';

export interface ChurnWrite {
  seq: number;
  kind: WriteKind;
  /** App id, network name, or rule port (as a string: the rule's identity in this client). */
  target: string;
  /** app-create / app-scale: the instances asked for. */
  instances?: number;
  /** app-create of an app with a named VIP: its name (`/<name>:80`). */
  vip?: string;
  outcome: Outcome;
  status?: number;
  /** The acknowledging master's own address (ack only). */
  by?: string;
  /** The master the request was sent to. */
  to: string;
  error?: string;
  /** Wall-clock ms (Date.now()) when sent and when the outcome was known. */
  sentAt: number;
  doneAt: number;
}

export interface ChurnOptions {
  masters: ChurnMaster[];
  /** Names every entity (`/<prefix>/a1`, network `<prefix>1`): unique per run, at most 8 characters. */
  prefix: string;
  /** Stop after this many writes at most (default 20000). */
  maxWrites?: number;
  /** Per-request timeout (default 8000 ms). */
  timeoutMs?: number;
  /** Send every write to this master, not the leader (the partition test's writer pinned to the old leader). */
  pinned?: ChurnMaster;
  /** Kinds to cycle through (default all). */
  kinds?: ('app' | 'vip' | 'network' | 'rule')[];
  /** Mutual TLS: the cluster CA and the operator's certificate (`sextant up`'s status file), for https masters. */
  tls?: ClientTls;
}

/** One request, no redirect followed: status, body text and the `x-marathon-leader` header; rejects on no answer within `timeoutMs`. */
function send(url: string, method: string, body: unknown, timeoutMs: number, tls?: ClientTls): Promise<{ status: number; text: string; leader?: string }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string | number> = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
  return new Promise((resolve, reject) => {
    const onRes = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('error', reject).on('end', () => {
        clearTimeout(timer);
        const l = res.headers['x-marathon-leader'];
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ...(typeof l === 'string' ? { leader: l } : {}) });
      });
    };
    const req = url.startsWith('https:') ? https.request(url, { method, headers, agent: false, ...(tls ?? {}) }, onRes) : http.request(url, { method, headers, agent: false }, onRes);
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => (clearTimeout(timer), reject(e)));
    req.end(payload);
  });
}

interface LiveApp {
  id: string;
  instances: number;
  vip?: string;
}

const APP_CMD = 'sleep 3600';
/** After a write that was not acknowledged, the next one waits this long (a client's retry pacing). */
const RETRY_PACE_MS = 200;
const appDef = (a: LiveApp) => ({
  id: a.id,
  cmd: APP_CMD,
  cpus: 0.01,
  mem: 8,
  instances: a.instances,
  ...(a.vip ? { portDefinitions: [{ port: 0, protocol: 'tcp', name: 'p', labels: { VIP_0: `/${a.vip}:80` } }] } : {}),
});

/** Appends a ChurnWrite per write to `log` until stop() (or maxWrites). */
export class ChurnClient {
  readonly log: ChurnWrite[] = [];
  private running = false;
  private loop?: Promise<void>;
  private leader?: ChurnMaster;
  private n = 0;
  private readonly apps: LiveApp[] = [];
  private readonly networks: string[] = [];
  private readonly rules: { port: number; key: string }[] = [];
  private readonly waiters = new Set<() => void>();

  get prefix(): string {
    return this.o.prefix;
  }

  constructor(private readonly o: ChurnOptions) {
    if (!/^[a-z][a-z0-9]{0,7}$/.test(o.prefix)) throw new Error(`churn prefix '${o.prefix}': lowercase letters and digits, at most 8`);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stop after the write in flight; resolves when it has its outcome. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Resolves once `pred` holds for a logged write appended from now on (or after the deadline: rejects). */
  waitFor(pred: (w: ChurnWrite) => boolean, timeoutMs: number, what: string): Promise<ChurnWrite> {
    const from = this.log.length;
    return new Promise((resolve, reject) => {
      const check = () => {
        const w = this.log.slice(from).find(pred);
        if (w) return done(() => resolve(w));
        if (!this.running) done(() => reject(new Error(`churn stopped before ${what}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${timeoutMs} ms`))), timeoutMs);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn();
      };
      this.waiters.add(check);
      check();
    });
  }

  private async run(): Promise<void> {
    const kinds = this.o.kinds ?? ['app', 'vip', 'network', 'rule'];
    const max = this.o.maxWrites ?? 20_000;
    for (let i = 0; this.running && this.log.length < max; i++) {
      const k = kinds[i % kinds.length]!;
      if (k === 'app') await this.appStep();
      else if (k === 'vip') await this.vipStep();
      else if (k === 'network') await this.networkStep();
      else await this.ruleStep();
    }
    this.running = false;
    for (const w of [...this.waiters]) w();
  }

  private async appStep(): Promise<void> {
    const plain = this.apps.filter((a) => !a.vip);
    if (plain.length >= 6) {
      const a = plain[0]!;
      const w = await this.write('app-delete', a.id, 'marathon', 'DELETE', `/v2/apps${a.id}`);
      this.settle(w, () => this.apps.splice(this.apps.indexOf(a), 1));
      return;
    }
    if (plain.length >= 3 && this.n % 2 === 0) {
      const a = plain[plain.length - 1]!;
      const next = { ...a, instances: a.instances ? 0 : 1 };
      const w = await this.write('app-scale', a.id, 'marathon', 'PUT', `/v2/apps${a.id}`, appDef(next), { instances: next.instances });
      this.settle(w, () => (a.instances = next.instances), a);
      return;
    }
    const a = { id: `/${this.o.prefix}/a${++this.n}`, instances: 0 };
    const w = await this.write('app-create', a.id, 'marathon', 'POST', '/v2/apps', appDef(a), { instances: 0 });
    if (w.outcome === 'ack') this.apps.push(a);
  }

  private async vipStep(): Promise<void> {
    const vips = this.apps.filter((a) => a.vip);
    if (vips.length >= 3) {
      const a = vips[0]!;
      const w = await this.write('app-delete', a.id, 'marathon', 'DELETE', `/v2/apps${a.id}`);
      this.settle(w, () => this.apps.splice(this.apps.indexOf(a), 1));
      return;
    }
    const n = ++this.n;
    const a = { id: `/${this.o.prefix}/v${n}`, instances: 1, vip: `${this.o.prefix}-v${n}` };
    const w = await this.write('app-create', a.id, 'marathon', 'POST', '/v2/apps', appDef(a), { instances: 1, vip: a.vip });
    if (w.outcome === 'ack') this.apps.push(a);
  }

  private async networkStep(): Promise<void> {
    if (this.networks.length >= 3) {
      const name = this.networks[0]!;
      const w = await this.write('network-delete', name, 'mesos', 'DELETE', `/v1/networks/${name}?force=true`);
      this.settle(w, () => this.networks.shift());
      return;
    }
    // A fresh /20 of 172.16.0.0/12 per network (256 at most): an `unknown` create may hold its subnet.
    const n = ++this.n;
    const slot = this.log.filter((w) => w.kind === 'network-create').length;
    if (slot >= 256) return this.ruleStep();
    const name = `${this.o.prefix}${n}`.slice(0, 13);
    const subnet = `172.${16 + (slot >> 4)}.${(slot & 15) << 4}.0/20`;
    const w = await this.write('network-create', name, 'mesos', 'POST', '/v1/networks', { name, subnet, prefix: 24 });
    if (w.outcome === 'ack') this.networks.push(name);
  }

  private async ruleStep(): Promise<void> {
    if (this.rules.length >= 4) {
      const r = this.rules[0]!;
      const w = await this.write('rule-remove', String(r.port), 'mesos', 'DELETE', `/v1/networks/isolation?rule=${encodeURIComponent(r.key)}`);
      this.settle(w, () => this.rules.shift());
      return;
    }
    const port = 20000 + (++this.n % 40000);
    const w = await this.write('rule-add', String(port), 'mesos', 'POST', '/v1/networks/isolation', { from: 'dcos', to: 'dcos', ports: [port], protocol: 'tcp' });
    if (w.outcome === 'ack') this.rules.push({ port, key: this.lastKey ?? '' });
  }

  private lastKey?: string;

  /** After a write to a live entity: ack applies `fn`; unknown drops the entity from the live lists (never touched again). */
  private settle(w: ChurnWrite, fn: () => void, app?: LiveApp): void {
    if (w.outcome === 'ack') return fn();
    if (w.outcome === 'unknown') {
      const a = app ?? this.apps.find((x) => x.id === w.target);
      if (a) this.apps.splice(this.apps.indexOf(a), 1);
      if (w.kind === 'network-delete') this.networks.shift();
      if (w.kind === 'rule-remove') this.rules.shift();
    }
  }

  private async findLeader(): Promise<ChurnMaster | undefined> {
    for (const m of this.o.masters) {
      const r = await requestJson(`${m.marathon}/v2/leader`, { timeoutMs: 2000, ...(this.o.tls ? { tls: this.o.tls } : {}) }).catch(() => undefined);
      const ip = (r?.body as { leader?: string } | undefined)?.leader?.split(':')[0];
      const l = r?.status === 200 ? this.o.masters.find((x) => x.ip === ip) : undefined;
      if (l) return l;
    }
    return undefined;
  }

  private async write(kind: WriteKind, target: string, port: 'mesos' | 'marathon', method: string, path: string, body?: unknown, extra: Partial<ChurnWrite> = {}): Promise<ChurnWrite> {
    const m = this.o.pinned ?? (this.leader ??= await this.findLeader()) ?? this.o.masters[this.log.length % this.o.masters.length]!;
    const sentAt = Date.now();
    const base: Omit<ChurnWrite, 'outcome' | 'doneAt'> = { seq: this.log.length, kind, target, ...extra, to: m.ip, sentAt };
    let w: ChurnWrite;
    try {
      const res = await send(`${m[port]}${path}`, method, body, this.o.timeoutMs ?? 8000, this.o.tls);
      const text = res.text;
      const by = res.leader;
      const status = res.status;
      if (status >= 200 && status < 300) {
        w = { ...base, outcome: 'ack', status, by: by ? new URL(by).hostname : m.ip, doneAt: Date.now() };
        if (kind === 'rule-add') this.lastKey = (JSON.parse(text) as { key?: string }).key;
      } else {
        // A 503 may say the write may or may not have committed (the store lost ZooKeeper mid-write).
        const maybe = status === 500 || status === 502 || status === 504 || (status === 503 && /may or may not/.test(text));
        w = { ...base, outcome: maybe ? 'unknown' : 'refused', status, error: text.slice(0, 200), doneAt: Date.now() };
      }
    } catch (e) {
      w = { ...base, outcome: 'unknown', error: (e as Error).message, doneAt: Date.now() };
    }
    this.log.push(w);
    for (const fn of [...this.waiters]) fn();
    if (w.outcome !== 'ack') {
      this.leader = undefined;
      // A client's retry pacing: without it a dead leader (whose znode lives until its session
      // expires) is asked hundreds of times a second, each an `unknown` that proves nothing.
      await new Promise((r) => setTimeout(r, RETRY_PACE_MS));
    }
    return w;
  }
}

/** What the cluster holds at the end, as verifyChurn() reads it. */
export interface ChurnState {
  /** tasks: every task Marathon lists for the app; running: those TASK_RUNNING; states: each task's. */
  apps: { id: string; instances: number; tasks: number; running?: number; states?: string[] }[];
  networks: string[];
  /** Isolation rules' ports (rules this client added have exactly one). */
  rulePorts: number[];
  /** Named-VIP allocations (name -> IP), as the master's VIP allocator lists them. */
  vips: { name: string; ip: string }[];
}

/** The final state from the leader (apps with their running task counts, networks, rules, VIP allocations). */
export async function readChurnState(leader: ChurnMaster, prefix: string, tls?: ClientTls): Promise<ChurnState> {
  const get = async (url: string) => {
    const r = await requestJson(url, { timeoutMs: 10_000, ...(tls ? { tls } : {}) });
    if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
    return r.body as Record<string, unknown>;
  };
  const apps = ((await get(`${leader.marathon}/v2/apps?embed=apps.tasks`)).apps as { id: string; instances: number; tasks?: { state?: string }[]; tasksRunning?: number }[])
    .filter((a) => a.id.startsWith(`/${prefix}/`))
    .map((a) => {
      const states = (a.tasks ?? []).map((x) => x.state ?? '?');
      return { id: a.id, instances: a.instances, tasks: a.tasks ? a.tasks.length : (a.tasksRunning ?? 0), running: a.tasks ? states.filter((x) => x === 'TASK_RUNNING').length : (a.tasksRunning ?? 0), states };
    });
  const networks = ((await get(`${leader.mesos}/v1/networks`)).networks as { name: string }[]).map((n) => n.name).filter((n) => n.startsWith(prefix));
  const rules = ((await get(`${leader.mesos}/v1/networks/isolation`)).rules as { from: string; to: string; ports?: (number | string)[] }[]).filter((r) => r.from === 'dcos' && r.to === 'dcos');
  const rulePorts = rules.flatMap((r) => (r.ports ?? []).map(Number)).filter((p) => p >= 20000);
  const alloc = (await get(`${leader.mesos}/v1/l4lb/vips`)).allocations as { name?: string; ip?: string }[] | Record<string, string> | undefined;
  const vips = Array.isArray(alloc) ? alloc.map((a) => ({ name: String(a.name), ip: String(a.ip) })) : Object.entries(alloc ?? {}).map(([name, ip]) => ({ name, ip: String(ip) }));
  return { apps, networks, rulePorts, vips: vips.filter((v) => v.name.includes(`${prefix}-v`)) };
}

export interface ChurnCheck {
  problems: string[];
  /** Entities whose every write had a known outcome (checked in full). */
  certain: number;
  /** Entities with an `unknown` write (checked for duplicates only). */
  uncertain: number;
}

const dups = (xs: string[]) => [...new Set(xs.filter((x, i) => xs.indexOf(x) !== i))];

/** Replay the log against the final state: one line per difference. */
export function verifyChurn(log: ChurnWrite[], s: ChurnState): ChurnCheck {
  const problems: string[] = [];
  const byTarget = new Map<string, ChurnWrite[]>();
  for (const w of log) {
    const key = `${w.kind.split('-')[0]}:${w.target}`;
    byTarget.set(key, [...(byTarget.get(key) ?? []), w]);
  }
  let certain = 0;
  let uncertain = 0;
  const apps = new Map(s.apps.map((a) => [a.id, a]));
  for (const [key, ws] of byTarget) {
    if (ws.some((w) => w.outcome === 'unknown')) {
      uncertain++;
      continue;
    }
    certain++;
    const acked = ws.filter((w) => w.outcome === 'ack');
    const last = acked[acked.length - 1];
    const [kind, target] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const show = (w: ChurnWrite) => `#${w.seq} ${w.kind} ${w.outcome}${w.status ? ` ${w.status}` : ''}${w.by ? ` by ${w.by}` : ''}`;
    const history = ws.map(show).join(', ');
    if (kind === 'app') {
      const want = last && last.kind !== 'app-delete' ? last.instances : undefined;
      const have = apps.get(target);
      if (want === undefined && have) problems.push(`app ${target} is there (instances ${have.instances}) but the log says it should not be: ${history}`);
      if (want !== undefined && !have) problems.push(`app ${target} is missing but the log says it was acknowledged: ${history}`);
      if (want !== undefined && have && have.instances !== want) problems.push(`app ${target} has instances ${have.instances}, the last acknowledged write asked ${want}: ${history}`);
      if (want !== undefined && have && have.tasks > want) problems.push(`app ${target} runs ${have.tasks} tasks for ${want} instances (a task launched twice?): ${history}`);
    } else if (kind === 'network') {
      const want = !!last && last.kind === 'network-create';
      const have = s.networks.includes(target);
      if (want !== have) problems.push(`network ${target} is ${have ? 'there' : 'missing'}, the log says it should ${want ? '' : 'not '}be: ${history}`);
    } else if (kind === 'rule') {
      const want = !!last && last.kind === 'rule-add';
      const have = s.rulePorts.includes(Number(target));
      if (want !== have) problems.push(`isolation rule on port ${target} is ${have ? 'there' : 'missing'}, the log says it should ${want ? '' : 'not '}be: ${history}`);
    }
  }
  for (const d of dups(s.apps.map((a) => a.id))) problems.push(`app ${d} is listed twice`);
  for (const d of dups(s.networks)) problems.push(`network ${d} is listed twice`);
  for (const d of dups(s.rulePorts.map(String))) problems.push(`an isolation rule on port ${d} is there twice`);
  for (const d of dups(s.vips.map((v) => v.name))) problems.push(`named VIP ${d} has two allocations`);
  for (const d of dups(s.vips.map((v) => v.ip))) problems.push(`VIP address ${d} is allocated to two names`);
  // Every VIP app that is there (and was acknowledged) has its name allocated.
  for (const w of log) {
    if (w.kind !== 'app-create' || !w.vip || w.outcome !== 'ack') continue;
    const a = apps.get(w.target);
    if (a && (a.running ?? a.tasks) > 0 && !s.vips.some((v) => v.name.includes(w.vip!)))
      problems.push(`app ${w.target} runs (tasks ${(a.states ?? []).join(', ') || a.tasks}) with VIP ${w.vip} but no address is allocated to it (allocated: ${s.vips.map((v) => `${v.name}=${v.ip}`).join(', ') || 'none'})`);
  }
  return { problems, certain, uncertain };
}

/**
 * Split brain in the log: writes `old` acknowledged that were sent after `fresh` had acknowledged
 * one sent after `since` (the cut), so `old` committed after the new leader did. One line each.
 */
export function acksAfterTakeover(log: ChurnWrite[], old: string, fresh: string, since: number): string[] {
  const first = log.filter((w) => w.outcome === 'ack' && w.by === fresh && w.sentAt > since).sort((a, b) => a.doneAt - b.doneAt)[0];
  if (!first) return [];
  return log
    .filter((w) => w.outcome === 'ack' && w.by === old && w.sentAt > first.doneAt)
    .map((w) => `#${w.seq} ${w.kind} ${w.target} acknowledged by ${old} (sent ${new Date(w.sentAt).toISOString()}) after ${fresh} acknowledged #${first.seq} at ${new Date(first.doneAt).toISOString()}`);
}
