/**
 * The masters' Network Metrics Aggregator: every `intervalMs` (default 5 s) the leader asks each
 * active agent of its state for `GET /net/v1/metrics` (bounded concurrency and a timeout per agent,
 * through the same GET the diagnostics aggregation uses), feeds the answers to the store, judges
 * the backends and, when a verdict changed, tells the drain policy (which the VIP source follows).
 * Only the leader runs master services, so only the leader polls. A poll never throws: an agent
 * that fails is a node status with the reason.
 */
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { BackendJudge, type Evidence, type JudgeOptions } from './judge.js';
import { DrainPolicy } from './drain.js';
import { parseNodeMetrics } from './parse.js';
import { C, MetricsStore, type StoreOptions } from './store.js';

export const METRICS_PATH = '/net/v1/metrics';

export interface PollTarget {
  ip: string;
  /** Base URL of the agent's API (`http://ip:5051`). */
  url: string;
}

export interface AggregatorOptions extends JudgeOptions, Omit<StoreOptions, 'startedAt'> {
  targets(): PollTarget[];
  get(url: string, signal: AbortSignal): Promise<unknown>;
  mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]>;
  intervalMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  drain?: boolean;
  clock?: Clock;
  log?: Logger;
  /** Called after every poll (metrics): how long it took and how many agents failed. */
  onPoll?(ms: number, failed: number): void;
}

export class NetMetricsAggregator {
  readonly store: MetricsStore;
  readonly judge: BackendJudge;
  readonly drain: DrainPolicy;
  readonly intervalMs: number;
  private readonly clock: Clock;
  private timer: unknown;
  private running?: Promise<void>;
  private stopped = true;
  private lastEvidence = new Map<string, Evidence>();
  /** When the last poll ended (ms), undefined before the first. */
  lastPoll?: number;

  constructor(private readonly o: AggregatorOptions) {
    this.clock = o.clock ?? systemClock;
    this.intervalMs = o.intervalMs ?? 5000;
    if (!(this.intervalMs >= 100)) throw new RangeError(`the poll interval ${this.intervalMs} ms is below 100 ms`);
    this.store = new MetricsStore({ ...o, startedAt: this.clock.now() });
    this.judge = new BackendJudge(o);
    this.drain = new DrainPolicy({ enabled: o.drain === true, unhealthy: (vip, backend) => this.failureRate(vip, backend) });
  }

  /** Poll now and every interval until stop(). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      // A poll never throws by design; should one (the master's state unreadable), log it and poll again.
      this.running = this.poll()
        .catch((err: unknown) => this.o.log?.error('netmetrics_poll_failed', { err }))
        .finally(() => this.schedule(this.intervalMs));
    }, ms);
  }

  /** One round: ask every target, take the answers, judge. */
  async poll(): Promise<void> {
    const t0 = this.clock.now();
    const targets = this.o.targets();
    const answers = await this.o.mapLimit(targets, this.o.concurrency ?? 8, (t) => this.ask(t));
    const now = this.clock.now();
    let failed = 0;
    for (const [i, a] of answers.entries()) {
      const node = targets[i]!.ip;
      if ('error' in a) {
        this.store.failed(node, a.error);
        failed++;
        continue;
      }
      try {
        const m = parseNodeMetrics(a.body);
        // The node is who the master's state says it is; the body's `node` only has to agree.
        if (m.node !== node) throw new Error(`answered for node ${m.node}, not ${node}`);
        this.store.ingest(m, now);
      } catch (e) {
        this.store.failed(node, `GET ${targets[i]!.url}${METRICS_PATH}: ${(e as Error).message}`);
        failed++;
      }
    }
    const known = new Set(targets.map((t) => t.ip));
    for (const n of [...this.store.nodes.keys()]) if (!known.has(n)) this.store.forget(n);
    this.store.prune(now);
    this.judgeNow(now);
    this.lastPoll = now;
    this.o.onPoll?.(now - t0, failed);
  }

  /** Judge every backend on the minute window at `now`; tell the drain when a verdict changed. */
  judgeNow(now: number): void {
    const before = new Set(this.judge.unhealthyKeys());
    this.lastEvidence = this.evidence(now);
    if (!this.judge.evaluate(this.lastEvidence, now)) return;
    const after = this.judge.unhealthyKeys();
    for (const k of after) if (!before.has(k)) this.o.log?.warn('vip_backend_unhealthy', { key: k, reason: this.judge.verdict(k).reason, drain: this.drain.enabled });
    for (const k of before) if (!after.includes(k)) this.o.log?.info('vip_backend_recovered', { key: k });
    this.drain.changed();
  }

  private evidence(now: number): Map<string, Evidence> {
    const out = new Map<string, Evidence>();
    for (const v of this.store.vips.values())
      for (const b of v.backends.values()) {
        const e: Evidence = { judged: 0, failures: 0, failingNodes: [] };
        for (const [node, s] of b.nodes) {
          const row = s.minute.sum(now);
          e.judged += row[C.judged]!;
          e.failures += row[C.failures]!;
          if (row[C.failures]! > 0) e.failingNodes.push(node);
        }
        e.failingNodes.sort();
        out.set(`${v.vip}|${b.backend}`, e);
      }
    return out;
  }

  /** The failure rate over the last minute of an unhealthy backend; undefined when it is healthy. */
  failureRate(vip: string, backend: string): number | undefined {
    const key = `${vip}|${backend}`;
    if (!this.judge.verdict(key).unhealthy) return undefined;
    const e = this.lastEvidence.get(key);
    return e && e.judged > 0 ? e.failures / e.judged : 1;
  }

  private async ask(t: PollTarget): Promise<{ body: unknown } | { error: string }> {
    const timeoutMs = this.o.timeoutMs ?? 4000;
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      return { body: await this.o.get(`${t.url}${METRICS_PATH}`, signal) };
    } catch (e) {
      if (signal.aborted) return { error: `GET ${t.url}${METRICS_PATH}: no answer within ${timeoutMs} ms` };
      const cause = (e as { cause?: { code?: string } }).cause;
      return { error: `GET ${t.url}${METRICS_PATH} failed: ${(e as Error).message}${cause?.code ? ` (${cause.code})` : ''}` };
    }
  }
}
