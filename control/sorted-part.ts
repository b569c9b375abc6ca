/**
 * One part of the agent's held view: entries by key, kept sorted by key as they change, so an
 * update costs what it changed (a binary search and a splice per key) instead of a sort of every
 * key. Many structural changes at once (a full snapshot, a big delta) rebuild the order with one
 * sort. `entries()` returns the same array until the part changes again, so a consumer can tell an
 * unchanged part by identity; the array is never mutated after it was handed out.
 */
import { lowerBound } from '../common/sorted.js';

/** Above this many keys added or removed in one update (and a fraction of the part), re-sort instead. */
const REBUILD_MIN = 64;

/** An entry as the held view keeps it: its own `key` is its key (delta.ts's parseUpserts takes it from there). */
export interface Keyed {
  key: string;
}

export class SortedPart {
  /**
   * The entries in key order, and nothing else: an entry's key is its own `key` field, so neither a
   * map by key (a map of 10,000 VIPs and one of their 10,000 names held 0.9 MB more) nor an array of
   * the keys beside (80 KB per 10,000 entries) is kept (issue #26); a binary search finds a key.
   */
  private values: Keyed[] = [];
  /** `values` was handed out by entries(): the next change copies it first (never mutated after). */
  private shared = false;

  get size(): number {
    return this.values.length;
  }

  clear(): void {
    if (!this.values.length) return;
    this.values = [];
    this.shared = false;
  }

  /**
   * Remove `removes`, then set `upserts` (a later upsert of a key wins). Returns whether anything
   * changed: a removed key that was held, or any upsert (an upsert always counts, as it replaces
   * the entry object). Each upsert's entry must have `key` as its `key` field.
   */
  update(removes: readonly string[], upserts: readonly { key: string; entry: unknown }[]): boolean {
    for (const u of upserts) if ((u.entry as Partial<Keyed> | null)?.key !== u.key) throw new Error(`entry of key '${u.key}' has another key`);
    let structural = 0;
    for (const k of removes) if (this.has(k)) structural++;
    for (const u of upserts) if (!this.has(u.key)) structural++;
    if (structural > REBUILD_MIN && structural * 8 > this.values.length) return this.rebuild(removes, upserts);
    let changed = false;
    for (const k of removes) {
      const i = this.indexOf(k);
      if (this.values[i]?.key !== k) continue;
      this.own();
      this.values.splice(i, 1);
      changed = true;
    }
    for (const { key, entry } of upserts) {
      this.own();
      const i = this.indexOf(key);
      if (this.values[i]?.key === key) this.values[i] = entry as Keyed;
      else this.values.splice(i, 0, entry as Keyed);
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
    const e = this.values[this.indexOf(key)];
    return e?.key === key ? e : undefined;
  }

  private has(key: string): boolean {
    return this.values[this.indexOf(key)]?.key === key;
  }

  /** About to change `values`: a copy when it was handed out. */
  private own(): void {
    if (!this.shared) return;
    this.values = this.values.slice();
    this.shared = false;
  }

  /** The index of `key` among the entries, or where it would be inserted. */
  private indexOf(key: string): number {
    const v = this.values;
    return lowerBound(v.length, (i) => v[i]!.key, key);
  }

  private rebuild(removes: readonly string[], upserts: readonly { key: string; entry: unknown }[]): boolean {
    const byKey = new Map<string, Keyed>();
    for (const e of this.values) byKey.set(e.key, e);
    let changed = false;
    for (const k of removes) changed = byKey.delete(k) || changed;
    for (const { key, entry } of upserts) {
      byKey.set(key, entry as Keyed);
      changed = true;
    }
    const keys = [...byKey.keys()].sort();
    this.values = keys.map((k) => byKey.get(k)!);
    this.shared = false;
    return changed;
  }
}
