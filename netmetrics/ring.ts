/**
 * A time window of sums in fixed memory: `slots` rows of `width` numbers, each row the sum of what
 * was added during one `slotMs` span. A row is reused (zeroed) when time comes round to it again,
 * so the window never grows; `sum(now)` adds the rows of the last `slots` spans (the current,
 * partial one included). Cost: slots × (width + 1) float64s, in a buffer of its own or a shared one.
 */
export class Ring {
  /** `slots` rows of `width`, then the span index each row holds (-1: never used); in `buf` from `offset`. */
  private readonly buf: Float64Array;
  private readonly offset: number;
  private readonly spansAt: number;

  /** Float64s one ring takes (its rows and their span indexes). */
  static size(slots: number, width: number): number {
    return slots * (width + 1);
  }

  /**
   * `buf`/`offset`: where its `Ring.size(slots, width)` float64s live, so several rings share one
   * buffer (an aggregator holds tens of thousands: one typed array each would double their cost).
   */
  constructor(
    readonly slots: number,
    readonly slotMs: number,
    readonly width: number,
    buf?: Float64Array,
    offset = 0,
  ) {
    if (!(slots >= 1 && slotMs > 0 && width >= 1)) throw new RangeError(`a ring needs slots >= 1, slotMs > 0, width >= 1 (got ${slots}, ${slotMs}, ${width})`);
    this.buf = buf ?? new Float64Array(Ring.size(slots, width));
    this.offset = offset;
    if (offset + Ring.size(slots, width) > this.buf.length) throw new RangeError('the buffer is too small for the ring');
    this.spansAt = offset + slots * width;
    this.buf.fill(-1, this.spansAt, this.spansAt + slots);
  }

  /** The window's length in ms. */
  get spanMs(): number {
    return this.slots * this.slotMs;
  }

  /** Add `values` (at most `width` of them) to the row of time `at`. */
  add(at: number, values: ArrayLike<number>): void {
    let any = false;
    for (let k = 0; k < values.length && !any; k++) any = values[k] !== 0;
    if (!any) return; // a window that only ever got zeros stays empty (and prunable)
    const span = Math.floor(at / this.slotMs);
    const i = span % this.slots;
    const base = this.offset + i * this.width;
    const held = this.buf[this.spansAt + i]!;
    if (held !== span) {
      if (span < held) return; // older than the window's rows: already out of it
      this.buf.fill(0, base, base + this.width);
      this.buf[this.spansAt + i] = span;
    }
    const n = Math.min(values.length, this.width);
    for (let k = 0; k < n; k++) this.buf[base + k]! += values[k]!;
  }

  /** The sums over the window that ends at `now` (a fresh array of `width`). */
  sum(now: number, into = new Float64Array(this.width)): Float64Array {
    const newest = Math.floor(now / this.slotMs);
    for (let i = 0; i < this.slots; i++) {
      const span = this.buf[this.spansAt + i]!;
      if (span < 0 || span > newest || span <= newest - this.slots) continue;
      const base = this.offset + i * this.width;
      for (let k = 0; k < this.width; k++) into[k]! += this.buf[base + k]!;
    }
    return into;
  }

  /** Nothing was added within the window that ends at `now`. */
  empty(now: number): boolean {
    const newest = Math.floor(now / this.slotMs);
    for (let i = 0; i < this.slots; i++) {
      const s = this.buf[this.spansAt + i]!;
      if (s >= 0 && s <= newest && s > newest - this.slots) return false;
    }
    return true;
  }
}
