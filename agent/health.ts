/**
 * Health checks of one task, Marathon style: probes run from the start every interval (the next
 * one `interval` after the previous finished), each bounded by the timeout. Failures during the
 * grace period are ignored until the task was healthy once, and until then the next probe comes
 * sooner: within GRACE_RETRY_MS, and at the latest when the grace period ends, so a task that
 * comes up is seen healthy in about a second, and the first check that counts runs when the grace
 * period ends, not an interval later. After that every failure counts, and
 * `max_consecutive_failures` in a row (0 = never) asks for the task to be killed. The health flag
 * is reported only when it changes. Time comes from the injected clock.
 */
import type { Clock } from '../common/clock.js';
import type { HealthCheckSpec } from '../contracts/index.js';
import { realProbe, type Probe, type ProbeTarget } from './probes.js';

export interface HealthEvents {
  /** The health flag changed (first result included). */
  onChange(healthy: boolean, detail?: string): void;
  /** max_consecutive_failures reached: kill the task. */
  onGiveUp(failures: number, detail?: string): void;
  /** Every probe result (metrics, tests). */
  onResult?(ok: boolean, detail?: string): void;
}

/** While in the grace period and not yet healthy, a failed probe is retried this soon (or at the interval, if shorter). */
export const GRACE_RETRY_MS = 1000;

export class HealthChecker {
  private timer: unknown;
  private stopped = true;
  private healthy: boolean | undefined;
  private everHealthy = false;
  private failures = 0;
  private startedAt = 0;
  private inflight?: AbortController;

  constructor(
    private readonly spec: HealthCheckSpec,
    private readonly target: ProbeTarget,
    private readonly clock: Clock,
    private readonly events: HealthEvents,
    private readonly probe: Probe = realProbe,
  ) {}

  start(): void {
    this.stopped = false;
    this.startedAt = this.clock.now();
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.inflight?.abort();
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.runOnce(), ms);
  }

  private async runOnce(): Promise<void> {
    const ac = new AbortController();
    this.inflight = ac;
    const timeout = this.clock.setTimeout(() => ac.abort(), Math.max(1, this.spec.timeout_seconds * 1000));
    let why: string | undefined;
    try {
      why = await this.probe(this.spec, this.target, ac.signal);
    } catch (e) {
      why = (e as Error).message;
    }
    this.clock.clearTimeout(timeout);
    if (this.stopped) return;
    this.record(why);
    this.schedule(this.nextDelay());
  }

  private nextDelay(): number {
    const interval = Math.max(1, this.spec.interval_seconds * 1000);
    if (this.everHealthy) return interval;
    const graceLeft = this.startedAt + this.spec.grace_period_seconds * 1000 - this.clock.now();
    if (graceLeft <= 0) return interval;
    return Math.max(1, Math.min(interval, GRACE_RETRY_MS, graceLeft));
  }

  private record(why: string | undefined): void {
    const ok = why === undefined;
    this.events.onResult?.(ok, why);
    if (ok) {
      this.failures = 0;
      this.everHealthy = true;
      return this.set(true);
    }
    const inGrace = this.clock.now() - this.startedAt < this.spec.grace_period_seconds * 1000;
    if (inGrace && !this.everHealthy) return;
    this.failures++;
    this.set(false, why);
    const max = this.spec.max_consecutive_failures;
    if (max > 0 && this.failures >= max) {
      this.stop();
      this.events.onGiveUp(this.failures, why);
    }
  }

  private set(healthy: boolean, detail?: string): void {
    if (this.healthy === healthy) return;
    this.healthy = healthy;
    this.events.onChange(healthy, detail);
  }
}
