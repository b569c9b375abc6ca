/**
 * One /metrics for a dispatcher with worker processes: at scrape time each `sextant_dispatcher_*`
 * metric of the first process adds the same series of every worker (counters, histogram buckets,
 * sums and counts, and gauges like in-flight queries and cache entries are summed). Gauges that
 * describe the whole dispatcher (zone records, worker count) are the first process's alone.
 * The workers are asked once per scrape, however many metrics read them.
 */
import type { Registry } from '../../common/metrics.js';

interface Series {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}
interface MetricJson {
  name: string;
  values: Series[];
}

const PREFIX = 'sextant_dispatcher_';
const FIRST_PROCESS_ONLY = new Set(['sextant_dispatcher_zone_records', 'sextant_dispatcher_workers']);

const seriesKey = (s: Series) =>
  `${s.metricName ?? ''}{${Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${String(s.labels[k])}`)
    .join(',')}}`;

/** `mine` plus every worker's series of the same metric, summed by series. */
function sumSeries(mine: Series[], theirs: Series[][]): Series[] {
  const out = new Map<string, Series>();
  for (const s of mine) out.set(seriesKey(s), { ...s, labels: { ...s.labels } });
  for (const list of theirs)
    for (const s of list) {
      const k = seriesKey(s);
      const have = out.get(k);
      if (have) have.value += s.value;
      else out.set(k, { ...s, labels: { ...s.labels } });
    }
  return [...out.values()];
}

export function mergeWorkerMetrics(registry: Registry, fetch: () => Promise<{ metrics: unknown[] }[]>): void {
  let once: Promise<Map<string, MetricJson>[]> | undefined;
  const workers = () => {
    if (!once) {
      once = fetch().then((list) => list.map((w) => new Map((w.metrics as MetricJson[]).map((m) => [m.name, m]))));
      void once.finally(() => (once = undefined));
    }
    return once;
  };
  for (const m of registry.getMetricsAsArray()) {
    const metric = m as unknown as { name: string; get: () => Promise<MetricJson> };
    const name = metric.name;
    if (!name.startsWith(PREFIX) || FIRST_PROCESS_ONLY.has(name)) continue;
    const own = metric.get.bind(metric);
    metric.get = async () => {
      const [mine, others] = await Promise.all([own(), workers().catch(() => [])]);
      return { ...mine, values: sumSeries(mine.values, others.map((o) => o.get(name)?.values ?? [])) };
    };
  }
}
