/**
 * One part of the agent's held view: entries by key, kept sorted by key as they change, so an
 * update costs what it changed (a binary search and a splice per key) instead of a sort of every
 * key. Many structural changes at once (a full snapshot, a big delta) rebuild the order with one
 * sort. `entries()` returns the same array until the part changes again, so a consumer can tell an
 * unchanged part by identity; the array is never mutated after it was handed out.
 */

/** Above this many keys added or removed in one update (and a fraction of the part), re-sort instead. */
const REBUILD_MIN = 64;

export class SortedPart {
  /**
   * The keys in order and the entries at the same positions: no map by key besides (a binary search
   * finds a key; a map of 10,000 VIPs and one of their 10,000 names held 0.9 MB more, issue #26).
   */
  private keys: string[] = [];
  private values: unknown[] = [];
  /** `values` was handed out by entries(): the next change copies it first (never mutated after). */
  private shared = false;

  get size(): number {
    return this.keys.length;
  }

  clear(): void {
    if (!this.keys.length) return;
    this.keys = [];
    this.values = [];
    this.shared = false;
  }

  /**
   * Remove `removes`, then set `upserts` (a later upsert of a key wins). Returns whether anything
   * changed: a removed key that was held, or any upsert (an upsert always counts, as it replaces
   * the entry object).
   */
  update(removes: readonly string[], upserts: readonly { key: string; entry: unknown }[]): boolean {
    let structural = 0;
    for (const k of removes) if (this.has(k)) structural++;
    for (const u of upserts) if (!this.has(u.key)) structural++;
    if (structural > REBUILD_MIN && structural * 8 > this.keys.length) return this.rebuild(removes, upserts);
    let changed = false;
    for (const k of removes) {
      const i = this.indexOf(k);
      if (this.keys[i] !== k) continue;
      this.own();
      this.keys.splice(i, 1);
      this.values.splice(i, 1);
      changed = true;
    }
    for (const { key, entry } of upserts) {
      this.own();
      const i = this.indexOf(key);
      if (this.keys[i] === key) this.values[i] = entry;
      else {
        this.keys.splice(i, 0, key);
        this.values.splice(i, 0, entry);
      }
      changed = true;
    }
    return changed;
  }

  /** The entries sorted by key (code unit order, as `Array.prototype.sort`); the same array while unchanged. */
  entries(): unknown[] {
    this.shared = true;
    return this.values;
  }

  get(key: string): unknown {
    const i = this.indexOf(key);
    return this.keys[i] === key ? this.values[i] : undefined;
  }

  private has(key: string): boolean {
    return this.keys[this.indexOf(key)] === key;
  }

  /** About to change `values`: a copy when it was handed out. */
  private own(): void {
    if (!this.shared) return;
    this.values = this.values.slice();
    this.shared = false;
  }

  /** The index of `key` in `keys`, or where it would be inserted. */
  private indexOf(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private rebuild(removes: readonly string[], upserts: readonly { key: string; entry: unknown }[]): boolean {
    const byKey = new Map<string, unknown>();
    this.keys.forEach((k, i) => byKey.set(k, this.values[i]));
    let changed = false;
    for (const k of removes) changed = byKey.delete(k) || changed;
    for (const { key, entry } of upserts) {
      byKey.set(key, entry);
      changed = true;
    }
    this.keys = [...byKey.keys()].sort();
    this.values = this.keys.map((k) => byKey.get(k));
    this.shared = false;
    return changed;
  }
}
