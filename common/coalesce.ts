/**
 * Coalesces triggers of an async job: at most one run at a time and runs started at least
 * `intervalMs` apart. A trigger after a quiet interval runs the job at once (in a microtask, not
 * inside the caller's stack); triggers during a run or during the wait make one trailing run.
 * Time comes from the injected clock.
 */
import type { Clock } from './clock.js';

export interface CoalescerOptions {
  intervalMs: number;
  clock: Clock;
}

export class Coalescer {
  private last = -Infinity;
  private timer: unknown;
  private scheduled = false;
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;

  /** `job` should handle its own errors; a rejection is swallowed so the next trigger still runs. */
  constructor(
    private readonly job: () => Promise<unknown>,
    private readonly opts: CoalescerOptions,
  ) {}

  trigger(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    const wait = this.last + this.opts.intervalMs - this.opts.clock.now();
    if (wait <= 0) queueMicrotask(() => this.start());
    else this.timer = this.opts.clock.setTimeout(() => this.start(), wait);
  }

  /** Resolves when no run is under way or about to start (a run waiting for the interval does not count). */
  async idle(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.scheduled && this.timer === undefined) await Promise.resolve();
      else return;
    }
  }

  /** Drop a pending run and ignore later triggers; resolves when a run under way has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.dirty = false;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    await this.running;
  }

  private start(): void {
    this.timer = undefined;
    if (!this.scheduled) return; // stopped meanwhile
    this.scheduled = false;
    this.dirty = false;
    this.last = this.opts.clock.now();
    // The job starts here, synchronously up to its first await.
    this.running = (async () => {
      try {
        await this.job();
      } catch {
        /* the job reports its own errors */
      }
    })().finally(() => {
      this.running = undefined;
      if (this.dirty) this.trigger();
    });
  }
}
