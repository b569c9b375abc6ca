/**
 * The master-side allocator. Per agent: the lowest free VTEP IP of vtep_subnet, a MAC derived from
 * it, and the lowest free /prefix of every network (split in halves: the first for the `m-<net>`
 * bridge, the second reserved, as DC/OS did). Every allocation is written to the store before it
 * becomes visible, and the whole state is reloaded from the store on start, so a restarted master
 * never hands out anything twice. All mutations run one at a time.
 */
import { formatCidr, formatIp, halves, parseCidr, parseIp, SerialQueue, size, subnetAt, subnetCount, type Clock, type Logger } from '../common/index.js';
import type { KvStore } from '../contracts/index.js';
import type { IsolationRule, NetworkPolicy, OverlayAgent, OverlayConfig, OverlayNetwork } from '../contracts/index.js';
import { DEFAULT_NETWORKS, vtepMac } from './config.js';
import { OverlayExhaustedError } from './errors.js';

export const PREFIX = 'overlay/';
const K = {
  init: `${PREFIX}initialized`,
  net: (n: string) => `${PREFIX}networks/${n}`,
  agent: (id: string) => `${PREFIX}agents/${encodeURIComponent(id)}`,
  rule: (k: string) => `${PREFIX}rules/${encodeURIComponent(k)}`,
  policy: (n: string) => `${PREFIX}policies/${n}`,
};

export interface AllocatorOptions {
  store: KvStore;
  config: OverlayConfig;
  /** Networks created on the very first start (DC/OS default: dcos 9.0.0.0/8 /24). */
  initialNetworks?: OverlayNetwork[];
  log?: Logger;
  onExhausted?: (err: OverlayExhaustedError) => void;
  /**
   * Why a stored network may not be used now (checked at load against the networks accepted so far),
   * or undefined. A refused one is logged (`stored_record_invalid`) and skipped with what names it.
   */
  refuseStored?: (n: OverlayNetwork, accepted: OverlayNetwork[]) => string | undefined;
}

export class Allocator {
  readonly networks = new Map<string, OverlayNetwork>();
  readonly agents = new Map<string, OverlayAgent>();
  readonly rules = new Map<string, IsolationRule>();
  readonly policies = new Map<string, NetworkPolicy>();
  /** Last allocation failure per agent (exhaustion), shown by the API. */
  readonly errors = new Map<string, string>();
  /** Mutations run one at a time, each after the previous one finished. */
  private readonly queue = new SerialQueue();
  private listeners = new Set<() => void>();

  constructor(private readonly opts: AllocatorOptions) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  async load(): Promise<void> {
    const s = this.opts.store;
    if (!(await s.get(K.init))) {
      for (const n of this.opts.initialNetworks ?? DEFAULT_NETWORKS) await s.put(K.net(n.name), n);
      await s.put(K.init, true);
    }
    const skipped = new Set<string>();
    const invalid = (key: string, reason: string) => this.opts.log?.warn('stored_record_invalid', { key, reason });
    for (const [key, n] of await s.list<OverlayNetwork>(`${PREFIX}networks/`)) {
      const why = n && typeof n === 'object' && typeof n.name === 'string' ? this.opts.refuseStored?.(n, [...this.networks.values()]) : 'not a network record';
      if (why) {
        invalid(key, why);
        if (typeof n?.name === 'string') skipped.add(n.name);
      } else this.networks.set(n.name, n);
    }
    const named = (ep: string) => ep.split('/')[0]!;
    for (const [, a] of await s.list<OverlayAgent>(`${PREFIX}agents/`)) {
      // Shares of a skipped network stay in the store (it may come back) but are not handed out.
      const subnets = Object.fromEntries(Object.entries(a.subnets ?? {}).filter(([name]) => !skipped.has(name)));
      this.agents.set(a.agent_id, { ...a, subnets });
    }
    for (const [key, r] of await s.list<IsolationRule>(`${PREFIX}rules/`)) {
      if (skipped.has(named(r.from)) || skipped.has(named(r.to))) invalid(key, `names a skipped network (${r.from} > ${r.to})`);
      else this.rules.set(r.key, r);
    }
    for (const [key, p] of await s.list<NetworkPolicy>(`${PREFIX}policies/`)) {
      if (skipped.has(p.network)) invalid(key, `names a skipped network (${p.network})`);
      else this.policies.set(p.network, p);
    }
  }

  /** Give an agent its share (idempotent: an allocated agent keeps it; new networks are added). */
  ensureAgent(agentId: string, ip: string, ip6?: string): Promise<OverlayAgent> {
    return this.queue.run(async () => {
      const cur = this.agents.get(agentId);
      let next: OverlayAgent = cur ? { ...cur, ip, subnets: { ...cur.subnets } } : { key: agentId, agent_id: agentId, ip, ...this.newVtep(agentId), subnets: {} };
      if (ip6) next.ip6 = ip6;
      else delete next.ip6;
      const missing = [...this.networks.values()].filter((n) => !next.subnets[n.name]);
      this.errors.delete(agentId);
      for (const n of missing) {
        try {
          next.subnets[n.name] = this.sliceFor(agentId, n);
        } catch (e) {
          if (!(e instanceof OverlayExhaustedError)) throw e;
          this.exhausted(e);
        }
      }
      if (cur && cur.ip === ip && cur.ip6 === next.ip6 && missing.every((n) => !next.subnets[n.name])) return cur;
      await this.opts.store.put(K.agent(agentId), next);
      this.agents.set(agentId, next);
      this.opts.log?.info('overlay_agent_allocated', { agent_id: agentId, vtep_ip: next.vtep_ip, networks: Object.keys(next.subnets) });
      this.changed();
      return next;
    });
  }

  private exhausted(e: OverlayExhaustedError): void {
    this.errors.set(e.agentId, e.message);
    this.opts.log?.error('overlay_exhausted', { agent_id: e.agentId, what: e.what });
    this.opts.onExhausted?.(e);
  }

  private newVtep(agentId: string): Pick<OverlayAgent, 'vtep_ip' | 'vtep_mac'> {
    const c = parseCidr(this.opts.config.vtep_subnet)!;
    const used = new Set<bigint>();
    for (const a of this.agents.values()) used.add(parseIp(a.vtep_ip.split('/')[0]!)!.value);
    const last = size(c) - 1n;
    for (let i = 1n; i < last; i++) {
      const v = c.base + i;
      if (used.has(v)) continue;
      const ip = formatIp(4, v);
      return { vtep_ip: `${ip}/${c.len}`, vtep_mac: vtepMac(this.opts.config.vtep_mac_oui, ip) };
    }
    const e = new OverlayExhaustedError(agentId, `VTEP address in ${this.opts.config.vtep_subnet}`);
    this.exhausted(e);
    throw e;
  }

  private sliceFor(agentId: string, n: OverlayNetwork): OverlayAgent['subnets'][string] {
    const out: OverlayAgent['subnets'][string] = { ...pick(n, 4, agentId, this.usedSlices(n.name, 'subnet')) } as OverlayAgent['subnets'][string];
    if (n.subnet6 && n.prefix6) {
      const s6 = pick({ subnet: n.subnet6, prefix: n.prefix6, name: n.name }, 6, agentId, this.usedSlices(n.name, 'subnet6'));
      out.subnet6 = s6.subnet;
      out.bridge6 = s6.bridge;
    }
    return out;
  }

  private usedSlices(net: string, field: 'subnet' | 'subnet6'): Set<string> {
    const used = new Set<string>();
    for (const a of this.agents.values()) {
      const s = a.subnets[net]?.[field];
      if (s) used.add(s);
    }
    return used;
  }

  /** Free an agent's share (admin removal or gone too long). */
  releaseAgent(agentId: string): Promise<boolean> {
    return this.queue.run(async () => {
      if (!this.agents.has(agentId)) return false;
      await this.opts.store.delete(K.agent(agentId));
      this.agents.delete(agentId);
      this.errors.delete(agentId);
      this.opts.log?.info('overlay_agent_released', { agent_id: agentId });
      this.changed();
      return true;
    });
  }

  addNetwork(n: OverlayNetwork): Promise<void> {
    return this.queue.run(async () => {
      await this.opts.store.put(K.net(n.name), n);
      this.networks.set(n.name, n);
      // Existing agents get a slice of the new network right away.
      for (const a of [...this.agents.values()]) {
        try {
          const next = { ...a, subnets: { ...a.subnets, [n.name]: this.sliceFor(a.agent_id, n) } };
          await this.opts.store.put(K.agent(a.agent_id), next);
          this.agents.set(a.agent_id, next);
        } catch (e) {
          if (!(e instanceof OverlayExhaustedError)) throw e;
          this.exhausted(e);
        }
      }
      this.changed();
    });
  }

  /** Remove a network, its slices, its policy and the rules naming it. */
  removeNetwork(name: string): Promise<void> {
    return this.queue.run(async () => {
      for (const r of [...this.rules.values()]) if (endpointNet(r.from) === name || endpointNet(r.to) === name) await this.dropRule(r.key);
      if (this.policies.has(name)) {
        await this.opts.store.delete(K.policy(name));
        this.policies.delete(name);
      }
      for (const a of [...this.agents.values()]) {
        if (!a.subnets[name]) continue;
        const subnets = { ...a.subnets };
        delete subnets[name];
        const next = { ...a, subnets };
        await this.opts.store.put(K.agent(a.agent_id), next);
        this.agents.set(a.agent_id, next);
      }
      await this.opts.store.delete(K.net(name));
      this.networks.delete(name);
      this.changed();
    });
  }

  putRule(r: IsolationRule): Promise<void> {
    return this.queue.run(async () => {
      await this.opts.store.put(K.rule(r.key), r);
      this.rules.set(r.key, r);
      this.changed();
    });
  }

  private async dropRule(key: string): Promise<boolean> {
    if (!this.rules.has(key)) return false;
    await this.opts.store.delete(K.rule(key));
    this.rules.delete(key);
    return true;
  }

  removeRule(key: string): Promise<boolean> {
    return this.queue.run(async () => {
      const had = await this.dropRule(key);
      if (had) this.changed();
      return had;
    });
  }

  putPolicy(p: NetworkPolicy): Promise<void> {
    return this.queue.run(async () => {
      await this.opts.store.put(K.policy(p.network), p);
      this.policies.set(p.network, p);
      this.changed();
    });
  }

  removePolicy(network: string): Promise<boolean> {
    return this.queue.run(async () => {
      if (!this.policies.has(network)) return false;
      await this.opts.store.delete(K.policy(network));
      this.policies.delete(network);
      this.changed();
      return true;
    });
  }
}

export function endpointNet(e: string): string {
  const i = e.indexOf('/');
  return i < 0 ? e : e.slice(0, i);
}

/** The lowest free /prefix of a network, with its bridge half. */
function pick(n: { subnet: string; prefix: number; name: string }, family: 4 | 6, agentId: string, used: Set<string>): { subnet: string; bridge: string } {
  const c = parseCidr(n.subnet)!;
  const count = subnetCount(c, n.prefix);
  for (let i = 0n; i < count; i++) {
    const s = subnetAt(c, n.prefix, i);
    const str = formatCidr(s);
    if (used.has(str)) continue;
    return { subnet: str, bridge: formatCidr(halves(s)[0]) };
  }
  throw new OverlayExhaustedError(agentId, `/${n.prefix} in network "${n.name}" (${n.subnet}${family === 6 ? ', IPv6' : ''})`);
}
