/**
 * Dual dispatch: the query goes, unchanged, to the upstreams chosen by UpstreamHealth; the first
 * valid answer wins and is returned unchanged. The others run on to their own end so a dead upstream
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

  /** Ask the chosen upstreams; `done` gets the answer once. `started` is the query's arrival (performance.now()). */
  forward(raw: Buffer, q: Query, resolvers: Endpoint[], transport: Transport, zone: string, started: number, done: Done): void {
    const chosen = this.opts.health.pick(resolvers);
    if (!chosen.length) {
      this.opts.metrics.forwarderFailures.inc({ zone });
      return done(errorReply(raw, q, Rcode.SERVFAIL));
    }
    const job = new ForwardJob(this, raw, q, zone, chosen.length, started, done);
    const timeoutMs = this.opts.timeoutMs;
    const deadline = transport === 'udp' ? this.opts.clock.now() + timeoutMs : 0;
    for (let i = 0; i < chosen.length; i++) {
      const leg = new Leg(job, chosen[i]!);
      if (transport === 'udp') this.opts.udp.send(raw, q.questionEnd, leg.to, timeoutMs, leg, deadline);
      else this.sendTcp(raw, q.questionEnd, leg.to, leg);
    }
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

  private sendTcp(raw: Buffer, questionEnd: number, to: Endpoint, leg: Leg): void {
    tcpQuery(raw, questionEnd, to, this.opts.timeoutMs, this.opts.clock).promise.then(
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
 * One client query in flight: the first valid answer wins; when every leg failed, the last error
 * answer (or SERVFAIL). Plain objects, no closures per query (the hot path).
 */
class ForwardJob {
  private won = false;
  private lastError: Buffer | undefined;

  constructor(
    readonly fwd: Forwarder,
    private readonly raw: Buffer,
    private readonly q: Query,
    private readonly zone: string,
    private left: number, // legs not yet failed
    readonly started: number,
    private readonly done: Done,
  ) {}

  win(reply: Buffer): void {
    if (this.won) return;
    this.won = true;
    this.done(reply);
  }

  lose(errorAnswer: Buffer | undefined): void {
    if (errorAnswer) this.lastError = errorAnswer;
    if (--this.left > 0 || this.won) return;
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
