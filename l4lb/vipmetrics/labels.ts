/**
 * Bounded Prometheus labels for per VIP, per backend series. At most `max` (vip, backend) pairs get
 * series of their own, first come first served; a pair past the cap is counted in its VIP's
 * overflow series `{vip, backend="other"}` when that VIP already has a series of its own, else in
 * `{vip="other", backend="other"}`. So there are at most 2 x max + 1 series whatever the number of
 * VIPs and backends. A pair keeps its labels while it is reported (a counter never moves from one
 * series to another, which would look like a reset); a pair no longer reported frees its place.
 */
export const OTHER = 'other';

export interface SeriesKey {
  vip: string;
  backend: string;
}

export class BoundedLabels {
  private readonly assigned = new Map<string, SeriesKey>();
  private own = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`the series cap must be an integer >= 1, got ${max}`);
  }

  /**
   * Labels for every pair reported now, in order; pairs reported before and not now are forgotten
   * first (their places go to new pairs).
   */
  assign(pairs: SeriesKey[]): SeriesKey[] {
    const now = new Set(pairs.map(pairKey));
    for (const [k, l] of this.assigned) {
      if (now.has(k)) continue;
      this.assigned.delete(k);
      if (l.backend !== OTHER) this.own--;
    }
    const vipsWithOwn = new Set<string>();
    for (const l of this.assigned.values()) if (l.backend !== OTHER) vipsWithOwn.add(l.vip);
    return pairs.map((p) => {
      const k = pairKey(p);
      let l = this.assigned.get(k);
      if (l) return l;
      if (this.own < this.max) {
        l = { vip: p.vip, backend: p.backend };
        this.own++;
        vipsWithOwn.add(p.vip);
      } else {
        l = vipsWithOwn.has(p.vip) ? { vip: p.vip, backend: OTHER } : { vip: OTHER, backend: OTHER };
      }
      this.assigned.set(k, l);
      return l;
    });
  }

  /** Pairs with series of their own now. */
  get size(): number {
    return this.own;
  }
}

const pairKey = (p: SeriesKey) => `${p.vip}\u0000${p.backend}`;
