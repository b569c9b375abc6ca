/**
 * Bounded time series for the dashboard's charts, sampled on the master from metrics the
 * components already export (nothing new is counted):
 *   dns:  queries per second per server: Mesos-DNS (`sextant_mesos_dns_queries_total`, this
 *         process) and each agent's dispatcher (`sextant_dispatcher_requests_total`, its /metrics);
 *   l4lb: per agent, connections the userspace proxy relays (`sextant_l4lb_userspace_open`) and
 *         active backends programmed (`sextant_l4lb_backends{state="active"}`).
 * One sample every `intervalMs`, the last hour kept (ring of windowMs / intervalMs points).
 */
export interface SeriesJson {
  interval_ms: number;
  /** Sample times, seconds since the epoch (uPlot's x axis). */
  t: number[];
  dns: Record<string, (number | null)[]>;
  l4lb_open: Record<string, (number | null)[]>;
  l4lb_backends: Record<string, (number | null)[]>;
  /** Per agent id, from its last sample: the L4LB driver and overlay kernel driver in use. */
  nodes: Record<string, { l4lb_driver?: string; overlay_kernel?: string }>;
}

/** One sample: counters (totals) and gauges by series name; a missing name is a gap. */
export interface Reading {
  dnsTotals: Record<string, number>;
  open: Record<string, number>;
  backends: Record<string, number>;
  nodes?: Record<string, { l4lb_driver?: string; overlay_kernel?: string }>;
}

export class SeriesStore {
  private t: number[] = [];
  private dns = new Map<string, (number | null)[]>();
  private open = new Map<string, (number | null)[]>();
  private backends = new Map<string, (number | null)[]>();
  private last?: { at: number; totals: Record<string, number> };
  private nodes: SeriesJson['nodes'] = {};
  readonly points: number;

  constructor(
    readonly intervalMs: number,
    windowMs = 3_600_000,
  ) {
    this.points = Math.max(2, Math.ceil(windowMs / intervalMs));
  }

  add(at: number, r: Reading): void {
    const n = this.t.length;
    this.t.push(at / 1000);
    const rates: Record<string, number> = {};
    if (this.last && at > this.last.at)
      for (const [k, v] of Object.entries(r.dnsTotals)) {
        const prev = this.last.totals[k];
        // A counter that went down restarted: no rate for this step.
        if (prev !== undefined && v >= prev) rates[k] = (v - prev) / ((at - this.last.at) / 1000);
      }
    this.last = { at, totals: r.dnsTotals };
    if (r.nodes) this.nodes = r.nodes;
    push(this.dns, n, rates, Object.keys(r.dnsTotals));
    push(this.open, n, r.open);
    push(this.backends, n, r.backends);
    if (this.t.length > this.points) {
      this.t.shift();
      for (const m of [this.dns, this.open, this.backends]) for (const [k, a] of m) (a.shift(), a.every((x) => x === null) && m.delete(k));
    }
  }

  json(): SeriesJson {
    const obj = (m: Map<string, (number | null)[]>) => Object.fromEntries([...m].map(([k, a]) => [k, [...a]]));
    return { interval_ms: this.intervalMs, t: [...this.t], dns: obj(this.dns), l4lb_open: obj(this.open), l4lb_backends: obj(this.backends), nodes: { ...this.nodes } };
  }
}

/** Append this sample's values (null for series that have no value now; new series start with nulls). */
function push(m: Map<string, (number | null)[]>, n: number, values: Record<string, number>, known: string[] = []): void {
  for (const k of [...Object.keys(values), ...known]) if (!m.has(k)) m.set(k, new Array<number | null>(n).fill(null));
  for (const [k, a] of m) a.push(values[k] ?? null);
}
