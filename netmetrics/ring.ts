/**
 * A time window of sums in fixed memory: `slots` rows of `width` numbers, each row the sum of what
 * was added during one `slotMs` span. A row is reused (zeroed) when time comes round to it again,
 * so the window never grows; `sum(now)` adds the rows of the last `slots` spans (the current,
 * partial one included). Cost: (slots × (width + 1)) float64s.
 */
export class Ring {
  private readonly rows: Float64Array;
  /** The span index each row holds (-1: never used). */
  private readonly spans: Float64Array;

  constructor(
    readonly slots: number,
    readonly slotMs: number,
    readonly width: number,
  ) {
    if (!(slots >= 1 && slotMs > 0 && width >= 1)) throw new RangeError(`a ring needs slots >= 1, slotMs > 0, width >= 1 (got ${slots}, ${slotMs}, ${width})`);
    this.rows = new Float64Array(slots * width);
    this.spans = new Float64Array(slots).fill(-1);
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
    const base = i * this.width;
    if (this.spans[i] !== span) {
      if (span < this.spans[i]!) return; // older than the window's rows: already out of it
      this.rows.fill(0, base, base + this.width);
      this.spans[i] = span;
    }
    const n = Math.min(values.length, this.width);
    for (let k = 0; k < n; k++) this.rows[base + k]! += values[k]!;
  }

  /** The sums over the window that ends at `now` (a fresh array of `width`). */
  sum(now: number, into = new Float64Array(this.width)): Float64Array {
    const newest = Math.floor(now / this.slotMs);
    for (let i = 0; i < this.slots; i++) {
      const span = this.spans[i]!;
      if (span < 0 || span > newest || span <= newest - this.slots) continue;
      const base = i * this.width;
      for (let k = 0; k < this.width; k++) into[k]! += this.rows[base + k]!;
    }
    return into;
  }

  /** Nothing was added within the window that ends at `now`. */
  empty(now: number): boolean {
    const newest = Math.floor(now / this.slotMs);
    return !this.spans.some((s) => s >= 0 && s <= newest && s > newest - this.slots);
  }
}
