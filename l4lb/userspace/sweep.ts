/**
 * Connect timeouts without a timer per connection: every pending upstream connect is one Map entry
 * (insertion order = deadline order, since all share one timeout), and one unref'd interval per
 * proxy destroys those past their deadline. A connect that completes just deletes its entry.
 * Resolution: a timeout fires between `timeoutMs` and `timeoutMs * 1.25` after the connect began.
 */
export class ConnectSweep<T> {
  private readonly pending = new Map<T, number>();
  private timer?: NodeJS.Timeout;
  private now = 0;
  private readonly tick: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly expire: (item: T) => void,
  ) {
    this.tick = Math.max(10, Math.floor(timeoutMs / 4));
  }

  add(item: T): void {
    if (!this.timer) this.start();
    this.pending.set(item, this.now + this.timeoutMs);
  }

  delete(item: T): void {
    this.pending.delete(item);
  }

  get size(): number {
    return this.pending.size;
  }

  private start(): void {
    this.now = 0;
    this.timer = setInterval(() => this.sweep(), this.tick);
    this.timer.unref();
  }

  private sweep(): void {
    this.now += this.tick;
    for (const [item, deadline] of this.pending) {
      if (deadline > this.now) break;
      this.pending.delete(item);
      this.expire(item);
    }
    // Idle: stop ticking until the next connect.
    if (this.pending.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
