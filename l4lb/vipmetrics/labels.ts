/**
 * Bounded Prometheus labels for per VIP, per backend series. At most `max` (vip, backend) pairs get
 * series of their own, first come first served; a pair past the cap is counted in its VIP's
 * overflow series `{vip, backend="other"}` when that VIP already has a series of its own, else in
 * `{vip="other", backend="other"}`. So there are at most 2 x max + 1 series whatever the number of
 * VIPs and backends. A pair keeps its labels while it is reported (a counter never moves from one
 * series to another, which would look like a reset); a pair no longer reported frees its place.
 * `assign` returns one labels object per series (pairs of a series share it), so callers can sum
 * by object.
 *
 * Memory (issue #26): the pairs with series of their own (at most `max`) are held by key; the
 * overflowed ones, which are every other pair (30,000 at 10,000 VIPs x 3 with the default cap of
 * 1,000), only as two 32-bit hashes of the pair and which overflow series it went to (9 bytes a
 * slot), not a key string and a label object each (about 130 bytes a pair before). Two different
 * pairs with the same 64 bits would share a remembered overflow series: a new pair taken for an
 * overflowed one stays in overflow (a bounded label either way; about 1 in 10^10 at 30,000 pairs).
 */
import { PairHashes } from './pair-hashes.js';

export const OTHER = 'other';

export interface SeriesKey {
  vip: string;
  backend: string;
}

/** Where an overflowed pair went: its VIP's overflow series or `{other, other}`. */
const VIP_OTHER = 1;
const ALL_OTHER = 2;

export class BoundedLabels {
  private readonly assigned = new Map<string, SeriesKey>();
  /** The overflowed pairs reported last time, and which overflow series each went to. */
  private overflow = new PairHashes(0);

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`the series cap must be an integer >= 1, got ${max}`);
  }

  /**
   * Labels for every pair reported now, in order; pairs reported before and not now are forgotten
   * first (their places go to new pairs).
   */
  assign(pairs: SeriesKey[]): SeriesKey[] {
    const keys = pairs.map(pairKey);
    const now = new Set<string>();
    for (const k of keys) if (this.assigned.has(k)) now.add(k);
    for (const k of this.assigned.keys()) if (!now.has(k)) this.assigned.delete(k);
    const vipsWithOwn = new Set<string>();
    for (const l of this.assigned.values()) vipsWithOwn.add(l.vip);
    const before = this.overflow;
    const overflow = new PairHashes(pairs.length - this.assigned.size);
    const allOther: SeriesKey = { vip: OTHER, backend: OTHER };
    const vipOther = new Map<string, SeriesKey>();
    const overflowed = (vip: string, kind: number): SeriesKey => {
      if (kind === ALL_OTHER) return allOther;
      let l = vipOther.get(vip);
      if (!l) vipOther.set(vip, (l = { vip, backend: OTHER }));
      return l;
    };
    const out = pairs.map((p, i) => {
      const k = keys[i]!;
      const l = this.assigned.get(k);
      if (l) return l;
      let kind = before.get(k);
      if (!kind) {
        if (this.assigned.size < this.max) {
          const own = { vip: p.vip, backend: p.backend };
          this.assigned.set(k, own);
          vipsWithOwn.add(p.vip);
          return own;
        }
        kind = vipsWithOwn.has(p.vip) ? VIP_OTHER : ALL_OTHER;
      }
      overflow.set(k, kind);
      return overflowed(p.vip, kind);
    });
    this.overflow = overflow;
    return out;
  }

  /** Pairs with series of their own now. */
  get size(): number {
    return this.assigned.size;
  }

  /** Overflowed pairs remembered (tests). */
  get overflowed(): number {
    return this.overflow.size;
  }
}

const pairKey = (p: SeriesKey) => `${p.vip}\u0000${p.backend}`;
