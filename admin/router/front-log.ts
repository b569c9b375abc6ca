/**
 * The metrics of the requests the nginx front served itself (front-conf.ts), from its access log: each
 * line is `route status upstream_header_time` (nginx writes them in batches, at least every second);
 * read every second from where the last read stopped and added to the entry point's metrics, so
 * `sextant_entry_requests_total` and `sextant_entry_upstream_seconds` count every request whichever
 * process served it. Past `rotateBytes` the file is renamed, nginx told to reopen it (SIGUSR1), and the
 * renamed one read to its end on the next round, then removed.
 */
import fs from 'node:fs';
import type { EntryMetrics } from './metrics.js';

export class FrontLog {
  private offset = 0;
  private rest = '';
  private timer: NodeJS.Timeout | undefined;
  private old: string | undefined;

  constructor(private readonly file: string, private readonly metrics: EntryMetrics, private readonly reopen: () => void, private readonly rotateBytes = 16 << 20) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.read(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.read();
  }

  /** Take in what was written since the last read. */
  read(): void {
    if (this.old) {
      this.drain(this.old, this.offsetOld);
      fs.rmSync(this.old, { force: true });
      this.old = undefined;
    }
    this.offset = this.drain(this.file, this.offset);
    if (this.offset > this.rotateBytes) {
      this.old = `${this.file}.1`;
      fs.renameSync(this.file, this.old);
      this.offsetOld = this.offset;
      this.offset = 0;
      this.reopen();
    }
  }

  private offsetOld = 0;

  private drain(file: string, from: number): number {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return from;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < from) from = 0; // truncated by someone: start over
      if (size === from) return from;
      const buf = Buffer.alloc(size - from);
      const n = fs.readSync(fd, buf, 0, buf.length, from);
      this.lines(buf.subarray(0, n).toString('latin1'));
      return from + n;
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Identical lines are counted first (a line is `route status seconds`, seconds in ms steps: a few
   * distinct lines a second), then each distinct one parsed once: one `inc` per (route, status) and read.
   */
  private lines(text: string): void {
    const all = this.rest + text;
    const same = new Map<string, number>();
    let start = 0;
    for (let nl = all.indexOf('\n'); nl >= 0; start = nl + 1, nl = all.indexOf('\n', start)) {
      if (nl === start) continue;
      const l = all.slice(start, nl);
      same.set(l, (same.get(l) ?? 0) + 1);
    }
    this.rest = all.slice(start);
    const counts = new Map<string, number>();
    for (const [l, n] of same) {
      const a = l.indexOf(' ');
      if (a <= 0) continue;
      const b = l.indexOf(' ', a + 1);
      const key = b < 0 ? l : l.slice(0, b);
      if (key.length === a + 1) continue; // no status
      counts.set(key, (counts.get(key) ?? 0) + n);
      if (b < 0) continue;
      const s = Number.parseFloat(l.slice(b + 1));
      if (!Number.isFinite(s)) continue;
      const labels = { route: l.slice(0, a) };
      for (let i = 0; i < n; i++) this.metrics.upstreamSeconds.observe(labels, s);
    }
    for (const [key, n] of counts) {
      const a = key.indexOf(' ');
      this.metrics.requests.inc({ route: key.slice(0, a), code: key.slice(a + 1) }, n);
    }
  }
}
