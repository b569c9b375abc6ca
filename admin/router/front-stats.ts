/**
 * The metrics of the requests the nginx front served itself, from its C module's counters (front-conf.ts
 * `sextant_count`, native/nginx-sextant/ngx_http_sextant_count_module.c), in place of front-log.ts's
 * access log when the module is loaded. Read every second (and at stop) from `sextant_stats` on the
 * front's unix socket: totals since the counters' zone was made, of which the increase since the last
 * read is added to `sextant_entry_requests_total` and `sextant_entry_upstream_seconds`. A new `epoch`
 * (nginx started again) or a total smaller than last time means the counts started again from 0: taken
 * whole. The text, one line each:
 *   epoch <n>
 *   c <route> <status> <count>
 *   h <route> <bucket upper bound, s, or +Inf> <count> <sum of header times, ms>
 * A bucket's increase of n requests and s ms is observed as n times s/n ms (inside the bucket), so
 * the histogram's buckets, count and sum are those of the requests one by one.
 */
import http from 'node:http';
import type { EntryMetrics } from './metrics.js';

/** The buckets the C module counts in (metrics.ts's), in ms, its `le` text as key. */
const LE = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf'];
const LE_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, Infinity];
const BUCKETS_MS = new Map(LE.map((le, i) => [le, LE_MS[i]]));
const ROUTE = /^[a-z0-9_]{1,31}$/;
const CODE = /^[0-9]{3}$/;
const COUNT = /^[0-9]{1,15}$/;
const READ_TIMEOUT_MS = 5000;

export class FrontStats {
  private epoch: string | undefined;
  /** The totals of the last read, `c route code` and `h route le` (count) and `s route le` (sum, ms). */
  private last = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private failing = false;

  constructor(private readonly socket: string, private readonly path: string, private readonly metrics: EntryMetrics, private readonly warn: (error: string) => void) {}

  start(intervalMs = 1000): void {
    this.timer = setInterval(() => void this.read(), intervalMs);
    this.timer.unref();
  }

  /** One last read (nginx still running). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.read();
  }

  /** Take in the counts since the last read; one read at a time (a second caller waits for it). */
  read(): Promise<void> {
    this.reading ??= get(this.socket, this.path)
      .then((text) => {
        this.apply(text);
        this.failing = false;
      })
      .catch((e: Error) => {
        if (!this.failing) this.warn(e.message); // once until a read works again
        this.failing = true;
      })
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  /** Add the increase of `text`'s totals since the last ones (exported for the tests). */
  apply(text: string): void {
    const lines = text.split('\n');
    const epoch = /^epoch ([0-9]+)$/.exec(lines[0] ?? '')?.[1];
    if (epoch === undefined) throw new Error(`the front's counters do not start with an epoch line: ${JSON.stringify(text.slice(0, 80))}`);
    if (epoch !== this.epoch) this.last.clear();
    this.epoch = epoch;
    for (const l of lines.slice(1)) {
      const f = l.split(' ');
      if (f[0] === 'c' && f.length === 4 && ROUTE.test(f[1]) && CODE.test(f[2]) && COUNT.test(f[3])) {
        const n = this.increase(`c ${f[1]} ${f[2]}`, Number(f[3]));
        if (n > 0) this.metrics.requests.inc({ route: f[1], code: f[2] }, n);
      } else if (f[0] === 'h' && f.length === 5 && ROUTE.test(f[1]) && BUCKETS_MS.has(f[2]) && COUNT.test(f[3]) && COUNT.test(f[4])) {
        this.observe(f[1], f[2], Number(f[3]), Number(f[4]));
      }
    }
  }

  /** The increase of a total since the last read (all of it when smaller: counted again from 0). */
  private increase(key: string, total: number): number {
    const prev = this.last.get(key) ?? 0;
    this.last.set(key, total);
    return total >= prev ? total - prev : total;
  }

  private observe(route: string, le: string, count: number, sumMs: number): void {
    const prevCount = this.last.get(`h ${route} ${le}`) ?? 0;
    const n = this.increase(`h ${route} ${le}`, count);
    const prevSum = this.last.get(`s ${route} ${le}`) ?? 0;
    this.last.set(`s ${route} ${le}`, sumMs);
    if (n <= 0) return;
    const s = count >= prevCount && sumMs >= prevSum ? sumMs - prevSum : sumMs;
    // The mean lies in the bucket; kept there should a read catch a sum and its count a request apart.
    const i = LE.indexOf(le);
    const hi = LE_MS[i];
    const lo = i > 0 ? Math.floor(LE_MS[i - 1]) + 1 : 0; // header times are whole ms
    const ms = Math.min(Math.max(s / n, lo), hi);
    const labels = { route };
    for (let k = 0; k < n; k++) this.metrics.upstreamSeconds.observe(labels, ms / 1000);
  }
}

function get(socket: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path, agent: false, timeout: READ_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(new Error(`the front's counters (${socket} ${path}): HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`the front's counters (${socket} ${path}): no answer in ${READ_TIMEOUT_MS} ms`)));
    req.on('error', (e) => reject(new Error(`the front's counters (${socket} ${path}): ${e.message}`)));
  });
}
