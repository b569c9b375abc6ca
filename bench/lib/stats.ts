/** Small statistics shared by the benchmarks. */

/** The middle value (upper middle for an even count) of `xs`; `xs` is not changed. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/**
 * The median of `via[i] / base[i]` over runs taken in alternating pairs: each ratio compares two runs
 * a few seconds apart, so load that drifts over the whole series (a shared machine) cancels out.
 */
export const pairedRatio = (base: number[], via: number[]): number => median(via.map((v, i) => v / base[i]!));

/** The nearest-rank `p`th percentile (0 < p <= 100) of `xs` (NaN when empty); `xs` is not changed. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
