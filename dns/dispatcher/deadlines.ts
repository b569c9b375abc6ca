/**
 * One timer for many timeouts: entries are kept in deadline order (one client with one timeout
 * adds them in that order already) and a single clock timer is armed for the earliest. An entry
 * answered in time is marked settled (and `settled()` called) and dropped lazily, so the hot path
 * never touches a timer; when settled entries pile up behind an unanswered one, they are swept out.
 */
import type { Clock } from '../../common/clock.js';

export interface Deadline {
  /** Clock time (ms) at which `expire` runs unless `settled` is set first. */
  readonly at: number;
  settled: boolean;
  expire(): void;
}

export class DeadlineQueue {
  private q: (Deadline | undefined)[] = [];
  private head = 0;
  private timer: unknown;
  private armedFor = Infinity;
  /** Entries added and neither settled nor expired. */
  private live = 0;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.q.length - this.head;
  }

  add(d: Deadline): void {
    this.dropSettled();
    if (this.size > 1024 && this.size > 4 * this.live) this.sweep();
    this.live++;
    const q = this.q;
    let i = q.length;
    q.push(d);
    while (i > this.head && q[i - 1]!.at > d.at) {
      q[i] = q[i - 1];
      i--;
    }
    q[i] = d;
    if (d.at < this.armedFor) this.arm(d.at);
  }

  /** Tell the queue an entry was settled (after setting `settled`), so it can sweep in time. */
  settled(): void {
    this.live--;
  }

  /** Forget every entry and the timer (shutdown). */
  clear(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.q = [];
    this.head = 0;
    this.live = 0;
  }

  private sweep(): void {
    this.q = this.q.filter((d, i) => i >= this.head && !d!.settled);
    this.head = 0;
    this.live = this.q.length;
  }

  private dropSettled(): void {
    const q = this.q;
    while (this.head < q.length && q[this.head]!.settled) q[this.head++] = undefined;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.q = q.slice(this.head);
      this.head = 0;
    }
  }

  private arm(at: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    for (;;) {
      this.dropSettled();
      const d = this.q[this.head];
      if (!d) return;
      if (d.at > now) return this.arm(d.at);
      this.q[this.head++] = undefined;
      d.settled = true;
      this.live--;
      d.expire();
    }
  }
}
