/**
 * Notices this process's event loop stalling: a timer that fires late. While the loop stands still
 * no DNS query is read or answered, and a client's try (about 1 s for Node's resolver) runs out, so
 * a failed lookup can be told apart from a dispatcher that did not answer (issue #25). One timer
 * per process, unref'd; nothing on the query path.
 */
export class StallWatch {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(
    /** Told the stall's length (ms) once the loop runs again. */
    private readonly onStall: (ms: number) => void,
    private readonly everyMs = 250,
    private readonly minMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - this.last - this.everyMs;
      this.last = now;
      if (late >= this.minMs) this.onStall(Math.round(late));
    }, this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
