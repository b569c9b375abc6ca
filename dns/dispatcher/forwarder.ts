/**
 * Dual dispatch: the query goes, unchanged, to the upstreams chosen by UpstreamHealth; the first
 * valid answer wins and is returned unchanged. The others run on to their own end so a dead upstream
 * still gets its failure counted (and ranks last next time). SERVFAIL and REFUSED count
 * as failures (another upstream may do better); if every upstream fails, the last error answer is
 * passed on, or SERVFAIL when none answered at all.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Attempt } from './attempt.js';
import type { Endpoint } from './endpoint.js';
import { UpstreamError } from './errors.js';
import type { UpstreamHealth } from './health.js';
import type { DispatcherMetrics } from './metrics.js';
import { errorReply, rcodeOf } from './replies.js';
import { tcpQuery } from './tcp-client.js';
import type { UdpUpstreamClient } from './udp-client.js';
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

  forward(raw: Buffer, q: Query, resolvers: Endpoint[], transport: Transport, zone: string): Promise<Buffer> {
    const chosen = this.opts.health.pick(resolvers);
    if (!chosen.length) {
      this.opts.metrics.forwarderFailures.inc({ zone });
      return Promise.resolve(errorReply(raw, q, Rcode.SERVFAIL));
    }
    return new Promise((resolve) => {
      let left = chosen.length;
      let won = false;
      let lastError: Buffer | undefined;
      const lose = () => {
        if (--left > 0 || won) return;
        this.opts.metrics.forwarderFailures.inc({ zone });
        resolve(lastError ?? errorReply(raw, q, Rcode.SERVFAIL));
      };
      for (const to of chosen) {
        const started = process.hrtime.bigint();
        this.send(raw, q.questionEnd, to, transport).promise.then(
          (reply) => {
            const rc = rcodeOf(reply);
            if (rc === Rcode.SERVFAIL || rc === Rcode.REFUSED) {
              this.fail(to, 'rcode');
              lastError = reply;
              return lose();
            }
            this.observe(to.label, Number(process.hrtime.bigint() - started) / 1e9);
            if (won) return;
            won = true;
            resolve(reply);
          },
          (err: unknown) => {
            const reason = err instanceof UpstreamError ? err.reason : 'network';
            if (reason !== 'aborted') this.fail(to, reason);
            lose();
          },
        );
      }
    });
  }

  private send(raw: Buffer, questionEnd: number, to: Endpoint, transport: Transport): Attempt {
    if (transport === 'tcp') return tcpQuery(raw, questionEnd, to, this.opts.timeoutMs, this.opts.clock);
    return this.opts.udp.query(raw, questionEnd, to, this.opts.timeoutMs);
  }

  private observe(upstream: string, seconds: number): void {
    let h = this.durationBy.get(upstream);
    if (!h) this.durationBy.set(upstream, (h = this.opts.metrics.workerDuration.labels(upstream)));
    h.observe(seconds);
  }

  private fail(to: Endpoint, reason: string): void {
    this.opts.health.recordFailure(to);
    this.opts.metrics.workerFailures.inc({ upstream: to.label, reason });
    this.opts.log.debug('upstream_failed', { upstream: to.label, reason });
  }
}
