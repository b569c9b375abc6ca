/**
 * Percentiles from a cumulative connect-latency histogram (contracts/netmetrics.ts: `counts[i]`
 * connections with latency <= CONNECT_LATENCY_BUCKETS[i], one more entry for +Inf), as Prometheus'
 * histogram_quantile does: find the bucket the rank falls in and interpolate linearly inside it; a
 * rank in the +Inf bucket answers the highest finite bound. Undefined when there is no sample.
 */
import { CONNECT_LATENCY_BUCKETS } from '../contracts/index.js';

/** Counts per bucket plus +Inf, then the sum of latencies (seconds). */
export const LATENCY_WIDTH = CONNECT_LATENCY_BUCKETS.length + 2;

/** The q-quantile (0 < q <= 1) in seconds of cumulative `counts` (length buckets + 1). */
export function quantile(q: number, counts: ArrayLike<number>, bounds: readonly number[] = CONNECT_LATENCY_BUCKETS): number | undefined {
  const total = counts[bounds.length] ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const c = counts[i]!;
    if (c >= rank) {
      const below = i === 0 ? 0 : counts[i - 1]!;
      const lo = i === 0 ? 0 : bounds[i - 1]!;
      const inBucket = c - below;
      return inBucket > 0 ? lo + (bounds[i]! - lo) * ((rank - below) / inBucket) : bounds[i]!;
    }
  }
  return bounds[bounds.length - 1];
}

/** p50 and p99 in milliseconds (rounded to µs), null when there is no sample. */
export function latencyView(row: ArrayLike<number>, offset = 0): { p50_ms: number | null; p99_ms: number | null; samples: number } {
  const counts = Array.from({ length: CONNECT_LATENCY_BUCKETS.length + 1 }, (_, i) => row[offset + i]!);
  const ms = (s: number | undefined) => (s === undefined ? null : Math.round(s * 1e6) / 1e3);
  return { p50_ms: ms(quantile(0.5, counts)), p99_ms: ms(quantile(0.99, counts)), samples: counts[counts.length - 1]! };
}
