/**
 * Binary search over a list kept in ascending order of a string key, the list given as its length and
 * a key by index (the callers' lists hold entries, services or plain keys).
 */

/** The first index whose key is not below `k` (where `k` is or would be inserted; `n` when none). */
export function lowerBound(n: number, keyAt: (i: number) => string, k: string): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyAt(mid) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose key is above `k` (`n` when none): one past the last of a repeated `k`. */
export function upperBound(n: number, keyAt: (i: number) => string, k: string): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyAt(mid) <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
