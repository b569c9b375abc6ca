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

  /** Counts add up per (route, status) before they reach the registry: one `inc` per key and read, not per line. */
  private lines(text: string): void {
    const all = (this.rest + text).split('\n');
    this.rest = all.pop() ?? '';
    const counts = new Map<string, number>();
    for (const l of all) {
      const a = l.indexOf(' ');
      if (a <= 0) continue;
      const b = l.indexOf(' ', a + 1);
      const key = b < 0 ? l : l.slice(0, b);
      if (key.length === a + 1) continue; // no status
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (b < 0) continue;
      const s = Number.parseFloat(l.slice(b + 1));
      if (Number.isFinite(s)) this.metrics.upstreamSeconds.observe({ route: l.slice(0, a) }, s);
    }
    for (const [key, n] of counts) {
      const a = key.indexOf(' ');
      this.metrics.requests.inc({ route: key.slice(0, a), code: key.slice(a + 1) }, n);
    }
  }
}
