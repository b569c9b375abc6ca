/**
 * Failure-ranked choice of upstreams. Fewer than 3 -> ask all; otherwise 2, those with the fewest
 * failures in the recent window, ties broken at random so load spreads; the others, in rank order,
 * are the fallbacks when those two fail before the timeout.
 */
import type { Clock } from '../../common/clock.js';
import type { Endpoint } from './endpoint.js';

export class UpstreamHealth {
  /** label -> failure times (ms), oldest first, bounded. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  recordFailure(e: Endpoint): void {
    let list = this.failures.get(e.label);
    if (!list) this.failures.set(e.label, (list = []));
    list.push(this.clock.now());
    if (list.length > 100) list.shift();
  }

  recentFailures(e: Endpoint): number {
    const list = this.failures.get(e.label);
    if (!list) return 0;
    const since = this.clock.now() - this.windowMs;
    while (list.length && list[0]! < since) list.shift();
    if (!list.length) this.failures.delete(e.label);
    return list.length;
  }

  pick(resolvers: Endpoint[]): Endpoint[] {
    return resolvers.length < 3 ? resolvers : this.order(resolvers).slice(0, 2);
  }

  /**
   * Every resolver, best first: the ones `pick` would ask lead, the rest follow in rank order (the
   * forwarder falls back on them when those fail early). Fewer than 3: as given (all are asked).
   * `pinFirst`: the first resolver stays first (the elected master's Mesos-DNS), the others are ranked.
   */
  order(resolvers: Endpoint[], pinFirst = false): Endpoint[] {
    if (resolvers.length < 3) return resolvers;
    const from = pinFirst ? 1 : 0;
    const ranked = resolvers.slice(from).map((e) => ({ e, f: this.recentFailures(e), r: this.random() }));
    ranked.sort((a, b) => a.f - b.f || a.r - b.r);
    return pinFirst ? [resolvers[0]!, ...ranked.map((x) => x.e)] : ranked.map((x) => x.e);
  }
}
