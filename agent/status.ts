/**
 * Status updates to the master, retried until acknowledged. Updates of one task are delivered in
 * order (the next waits for the previous to be acknowledged); tasks do not wait for each other.
 * Each update carries a uuid, so a retried POST is applied once by the master.
 */
import type { Clock } from '../common/clock.js';
import type { StatusUpdate } from '../contracts/index.js';

/** Deliver one update: true when the master acknowledged it. */
export type Deliver = (u: StatusUpdate) => Promise<boolean>;

export interface StatusSenderOptions {
  clock: Clock;
  deliver: Deliver;
  onAcked?(u: StatusUpdate): void;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Queue {
  items: StatusUpdate[];
  busy: boolean;
  backoff: number;
  timer?: unknown;
}

export class StatusSender {
  private readonly queues = new Map<string, Queue>();
  private paused = true;
  private stopped = false;

  constructor(private readonly opts: StatusSenderOptions) {}

  enqueue(u: StatusUpdate): void {
    let q = this.queues.get(u.task_id);
    if (!q) this.queues.set(u.task_id, (q = { items: [], busy: false, backoff: this.initial() }));
    q.items.push(u);
    this.pump(u.task_id, q);
  }

  /** Hold delivery (not registered yet) or resume it. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) for (const [id, q] of this.queues) this.pump(id, q);
  }

  /** Updates not yet acknowledged. */
  pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.items.length;
    return n;
  }

  stop(): void {
    this.stopped = true;
    for (const q of this.queues.values()) this.opts.clock.clearTimeout(q.timer);
  }

  private initial(): number {
    return this.opts.initialBackoffMs ?? 250;
  }

  private pump(id: string, q: Queue): void {
    if (q.busy || this.paused || this.stopped || q.timer !== undefined) return;
    const head = q.items[0];
    if (!head) {
      this.queues.delete(id);
      return;
    }
    q.busy = true;
    this.opts.deliver(head).then(
      (ok) => this.settle(id, q, head, ok),
      () => this.settle(id, q, head, false),
    );
  }

  private settle(id: string, q: Queue, head: StatusUpdate, ok: boolean): void {
    q.busy = false;
    if (this.stopped) return;
    if (ok) {
      q.items.shift();
      q.backoff = this.initial();
      this.opts.onAcked?.(head);
      return this.pump(id, q);
    }
    const wait = q.backoff;
    q.backoff = Math.min(q.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    q.timer = this.opts.clock.setTimeout(() => {
      q.timer = undefined;
      this.pump(id, q);
    }, wait);
  }
}
