/**
 * Dual dispatch: the query goes, unchanged, to the upstreams chosen by UpstreamHealth; the first
 * valid answer wins and is returned unchanged. A leg that fails before the timeout (a refused TCP
 * connection, an ICMP port unreachable, an error rcode) brings in the next resolver not yet asked,
 * so any live upstream can answer within the timeout. The others run on to their own end so a dead upstream
 * still gets its failure counted (and ranks last next time). SERVFAIL and REFUSED count
 * as failures (another upstream may do better); if every upstream fails, the last error answer is
 * passed on, or SERVFAIL when none answered at all.
 */
import type { Clock } from '../../common/clock.js';
import type { Done } from './chain.js';
import type { Logger } from '../../common/log.js';
import type { Endpoint } from './endpoint.js';
import { UpstreamError } from './errors.js';
import type { UpstreamHealth } from './health.js';
import type { DispatcherMetrics } from './metrics.js';
import { errorReply, rcodeOf } from './replies.js';
import { tcpQuery } from './tcp-client.js';
import type { ReplyHandler, UdpUpstreamClient } from './udp-client.js';
import { Rcode, type Query } from './wire.js';

export type Transport = 'udp' | 'tcp';

export interface ForwarderOptions {
  udp: UdpUpstreamClient;
  health: UpstreamHealth;
  clock: Clock;
  timeoutMs: number;
  metrics: DispatcherMetrics;
  log: Logger;
}

export class Forwarder {
  private readonly durationBy = new Map<string, { observe(v: number): void }>();

  constructor(private readonly opts: ForwarderOptions) {}

  /**
   * Ask the chosen upstreams; `done` gets the answer once. `started` is the query's arrival
   * (performance.now()). With 3 or more resolvers, 2 are asked first and each early failure
   * (refused, unreachable, an error rcode) brings in the next one, while time is left.
   * `leaderFirst`: the first resolver is always among the 2 (the elected master's Mesos-DNS).
   */
  forward(raw: Buffer, q: Query, resolvers: Endpoint[], transport: Transport, zone: string, started: number, done: Done, leaderFirst = false): void {
    const ranked = this.opts.health.order(resolvers, leaderFirst);
    if (!ranked.length) {
      this.opts.metrics.forwarderFailures.inc({ zone });
      return done(errorReply(raw, q, Rcode.SERVFAIL));
    }
    const first = ranked.length < 3 ? ranked.length : 2;
    const job = new ForwardJob(this, raw, q, zone, ranked, first, transport, this.opts.clock.now() + this.opts.timeoutMs, started, done);
    for (let i = 0; i < first; i++) this.ask(job, ranked[i]!);
  }

  /** One more leg of a job, with the time it has left. */
  ask(job: ForwardJob, to: Endpoint): void {
    const leg = new Leg(job, to);
    if (job.transport === 'udp') this.opts.udp.send(job.raw, job.q.questionEnd, to, this.opts.timeoutMs, leg, job.deadline);
    else this.sendTcp(job.raw, job.q.questionEnd, to, Math.max(1, job.deadline - this.opts.clock.now()), leg);
  }

  now(): number {
    return this.opts.clock.now();
  }

  /** One upstream's outcome for a job (called once per leg). */
  legDone(job: ForwardJob, leg: Leg, err: UpstreamError | undefined, reply: Buffer | undefined): void {
    if (err) {
      if (err.reason !== 'aborted') this.fail(leg.to, err.reason);
      return job.lose(undefined);
    }
    const rc = rcodeOf(reply!);
    if (rc === Rcode.SERVFAIL || rc === Rcode.REFUSED) {
      this.fail(leg.to, 'rcode');
      return job.lose(reply);
    }
    this.observe(leg.to.label, (performance.now() - job.started) / 1e3);
    job.win(reply!);
  }

  allFailed(zone: string): void {
    this.opts.metrics.forwarderFailures.inc({ zone });
  }

  private sendTcp(raw: Buffer, questionEnd: number, to: Endpoint, timeoutMs: number, leg: Leg): void {
    tcpQuery(raw, questionEnd, to, timeoutMs, this.opts.clock).promise.then(
      (reply) => leg.onReply(undefined, reply),
      (err: unknown) => leg.onReply(err instanceof UpstreamError ? err : new UpstreamError(to.label, 'network', String(err))),
    );
  }

  private observe(upstream: string, seconds: number): void {
    let h = this.durationBy.get(upstream);
    if (!h) this.durationBy.set(upstream, (h = this.opts.metrics.workerDuration.cell({ upstream })));
    h.observe(seconds);
  }

  private fail(to: Endpoint, reason: string): void {
    this.opts.health.recordFailure(to);
    this.opts.metrics.workerFailures.inc({ upstream: to.label, reason });
    this.opts.log.debug('upstream_failed', { upstream: to.label, reason });
  }
}

/**
 * One client query in flight: the first valid answer wins; a failed leg brings in the next
 * resolver not yet asked (while the deadline is ahead); when every leg failed, the last error
 * answer (or SERVFAIL). Plain objects, no closures per query (the hot path).
 */
class ForwardJob {
  private won = false;
  private lastError: Buffer | undefined;
  /** Legs asked and not yet ended. */
  private left: number;

  constructor(
    readonly fwd: Forwarder,
    readonly raw: Buffer,
    readonly q: Query,
    private readonly zone: string,
    private readonly ranked: Endpoint[],
    /** Index of the next resolver to fall back on. */
    private next: number,
    readonly transport: Transport,
    /** Clock time (ms) by which the client gets an answer. */
    readonly deadline: number,
    readonly started: number,
    private readonly done: Done,
  ) {
    this.left = next;
  }

  win(reply: Buffer): void {
    if (this.won) return;
    this.won = true;
    this.done(reply);
  }

  lose(errorAnswer: Buffer | undefined): void {
    if (errorAnswer) this.lastError = errorAnswer;
    this.left--;
    if (this.won) return;
    if (this.next < this.ranked.length && this.fwd.now() < this.deadline) {
      this.left++;
      return this.fwd.ask(this, this.ranked[this.next++]!);
    }
    if (this.left > 0) return;
    this.fwd.allFailed(this.zone);
    this.done(this.lastError ?? errorReply(this.raw, this.q, Rcode.SERVFAIL));
  }
}

/** One upstream query of a job. */
class Leg implements ReplyHandler {
  constructor(
    readonly job: ForwardJob,
    readonly to: Endpoint,
  ) {}

  onReply(err: UpstreamError | undefined, reply?: Buffer): void {
    this.job.fwd.legDone(this.job, this, err, reply);
  }
}
