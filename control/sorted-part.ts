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
  private readonly byKey = new Map<string, unknown>();
  private keys: string[] = [];
  private values: unknown[] = [];
  private handedOut: unknown[] | undefined = [];

  get size(): number {
    return this.byKey.size;
  }

  clear(): void {
    if (!this.byKey.size) return;
    this.byKey.clear();
    this.keys = [];
    this.values = [];
    this.handedOut = undefined;
  }

  /**
   * Remove `removes`, then set `upserts` (a later upsert of a key wins). Returns whether anything
   * changed: a removed key that was held, or any upsert (an upsert always counts, as it replaces
   * the entry object).
   */
  update(removes: readonly string[], upserts: readonly { key: string; entry: unknown }[]): boolean {
    let structural = 0;
    for (const k of removes) if (this.byKey.has(k)) structural++;
    for (const u of upserts) if (!this.byKey.has(u.key)) structural++;
    if (structural > REBUILD_MIN && structural * 8 > this.byKey.size) return this.rebuild(removes, upserts);
    let changed = false;
    for (const k of removes) {
      if (!this.byKey.delete(k)) continue;
      const i = this.indexOf(k);
      this.keys.splice(i, 1);
      this.values.splice(i, 1);
      changed = true;
    }
    for (const { key, entry } of upserts) {
      const i = this.indexOf(key);
      if (this.byKey.has(key)) this.values[i] = entry;
      else {
        this.keys.splice(i, 0, key);
        this.values.splice(i, 0, entry);
      }
      this.byKey.set(key, entry);
      changed = true;
    }
    if (changed) this.handedOut = undefined;
    return changed;
  }

  /** The entries sorted by key (code unit order, as `Array.prototype.sort`); the same array while unchanged. */
  entries(): unknown[] {
    return (this.handedOut ??= this.values.slice());
  }

  get(key: string): unknown {
    return this.byKey.get(key);
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
    let changed = false;
    for (const k of removes) changed = this.byKey.delete(k) || changed;
    for (const { key, entry } of upserts) {
      this.byKey.set(key, entry);
      changed = true;
    }
    this.keys = [...this.byKey.keys()].sort();
    this.values = this.keys.map((k) => this.byKey.get(k));
    this.handedOut = undefined;
    return changed;
  }
}
