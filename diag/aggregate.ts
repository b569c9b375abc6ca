/**
 * The masters' view of every node's health: the master's own units plus each agent's
 * `/system/health/v1`, polled with bounded concurrency and a timeout per agent. An agent that does
 * not answer, or answers something else, is an unhealthy node whose `error` says why. Polls are
 * made on demand; concurrent requests share one poll, and a result younger than `cacheMs` is reused.
 */
import { systemClock, type Clock } from '../common/clock.js';
import { requestJson, type ClientTls } from '../common/http.js';
import { parseNodeHealth, type NodeRole } from './node.js';
import type { UnitHealth } from './registry.js';

export interface NodeTarget {
  ip: string;
  role: NodeRole;
  hostname: string;
  mesosId: string;
  leader: boolean;
  /** Base URL of the node's API (`http://ip:5051`); absent for the master itself (asked locally). */
  url?: string;
}

export interface NodeReport extends Omit<NodeTarget, 'url'> {
  health: 0 | 1;
  units: UnitHealth[];
  /** Why the node could not be asked (then `units` is empty and health 0). */
  error?: string;
}

export interface AggregatorOptions {
  /** The nodes to ask now (the master and the agents of its state). */
  targets(): NodeTarget[];
  /** The master's own units (no HTTP round trip). */
  local(): Promise<UnitHealth[]>;
  /** GET a JSON body (injected in tests); default fetch. */
  get?(url: string, signal: AbortSignal): Promise<unknown>;
  concurrency?: number;
  timeoutMs?: number;
  cacheMs?: number;
  clock?: Clock;
}

export const HEALTH_PATH = '/system/health/v1';

/** The masters' GET of a JSON body from an agent (diag polls and the network metrics aggregator use this one). */
export async function fetchJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`answered a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** Run `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export class HealthAggregator {
  private readonly clock: Clock;
  private cached?: { at: number; nodes: NodeReport[] };
  private inflight?: Promise<NodeReport[]>;

  constructor(private readonly o: AggregatorOptions) {
    this.clock = o.clock ?? systemClock;
  }

  get timeoutMs(): number {
    return this.o.timeoutMs ?? 8000;
  }

  /** Every node's report, sorted masters first, then by IP. */
  async nodes(): Promise<NodeReport[]> {
    if (this.cached && this.clock.now() - this.cached.at < (this.o.cacheMs ?? 2000)) return this.cached.nodes;
    this.inflight ??= this.poll().then(
      (nodes) => {
        this.cached = { at: this.clock.now(), nodes };
        this.inflight = undefined;
        return nodes;
      },
      (e) => {
        this.inflight = undefined;
        throw e;
      },
    );
    return this.inflight;
  }

  private async poll(): Promise<NodeReport[]> {
    const targets = this.o.targets();
    const nodes = await mapLimit(targets, this.o.concurrency ?? 8, (t) => this.ask(t));
    return nodes.sort((a, b) => (a.role === b.role ? a.ip.localeCompare(b.ip, undefined, { numeric: true }) : a.role === 'master' ? -1 : 1));
  }

  private async ask(t: NodeTarget): Promise<NodeReport> {
    const { url, ...base } = t;
    try {
      const units = url === undefined ? await this.o.local() : await this.remote(`${url}${HEALTH_PATH}`);
      return { ...base, health: units.every((u) => u.health === 1) ? 1 : 0, units };
    } catch (e) {
      const where = url === undefined ? 'the local checks' : `GET ${url}${HEALTH_PATH}`;
      return { ...base, health: 0, units: [], error: `${where} failed: ${(e as Error).message}` };
    }
  }

  private async remote(url: string): Promise<UnitHealth[]> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const get = this.o.get ?? fetchJson;
    try {
      return parseNodeHealth(await get(url, signal)).units;
    } catch (e) {
      if (signal.aborted) throw new Error(`no answer within ${this.timeoutMs} ms`);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(cause?.code ? `${(e as Error).message} (${cause.code})` : (e as Error).message);
    }
  }
}

/** The nodes to poll from the master's `/master/state`: the master itself and each agent by its pid. */
export function targetsFromState(state: Record<string, unknown>, self: { ip: string; hostname: string; masterId: string }, secure = false): NodeTarget[] {
  const out: NodeTarget[] = [{ ip: self.ip, role: 'master', hostname: self.hostname, mesosId: self.masterId, leader: true }];
  for (const s of (state.slaves as { id?: unknown; hostname?: unknown; pid?: unknown }[] | undefined) ?? []) {
    const m = typeof s.pid === 'string' ? /@(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s.pid) : null;
    if (!m) continue;
    const ip = m[1]!.replace(/^\[|\]$/g, '');
    out.push({ ip, role: 'agent', hostname: typeof s.hostname === 'string' ? s.hostname : ip, mesosId: String(s.id ?? ''), leader: false, url: `${secure ? 'https' : 'http'}://${m[1]}:${m[2]}` });
  }
  return out;
}

/** A GET of a JSON body over mutual TLS (the agents' APIs under #30): the cluster CA and the master's certificate. */
export function tlsJsonGetter(tls: ClientTls): (url: string, signal: AbortSignal) => Promise<unknown> {
  return async (url, signal) => {
    const r = await requestJson(url, { tls, signal, timeoutMs: 60_000 });
    if (r.status !== 200) throw new Error(`answered HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`);
    return r.body;
  };
}
