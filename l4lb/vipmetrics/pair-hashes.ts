/**
 * A set of strings held as two 32-bit hashes each (FNV-1a with two offsets), with a small value
 * (1-255) per string: open addressing in typed arrays, sized once for the strings it will get.
 * Holds no string: two strings with the same 64 bits are one entry (labels.ts says what that costs).
 */
export class PairHashes {
  private readonly h1: Int32Array;
  private readonly h2: Int32Array;
  private readonly vals: Uint8Array;
  private readonly mask: number;
  private count = 0;

  /** Room for `expected` strings (a power of two slots, at least twice as many). */
  constructor(expected: number) {
    let slots = 8;
    while (slots < expected * 2) slots *= 2;
    this.h1 = new Int32Array(slots);
    this.h2 = new Int32Array(slots);
    this.vals = new Uint8Array(slots);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  /** The value of `s`, 0 when absent. */
  get(s: string): number {
    const [a, b] = hashes(s);
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      if (!this.vals[i]) return 0;
      if (this.h1[i] === a && this.h2[i] === b) return this.vals[i]!;
    }
  }

  /** Set the value of `s` (1-255); throws when full (the size given was too small). */
  set(s: string, value: number): void {
    if (!(value >= 1 && value <= 255)) throw new RangeError(`value ${value} is not 1-255`);
    const [a, b] = hashes(s);
    for (let i = a & this.mask, n = 0; n <= this.mask; i = (i + 1) & this.mask, n++) {
      if (!this.vals[i]) {
        if (this.count * 2 >= this.mask + 1) break;
        this.h1[i] = a;
        this.h2[i] = b;
        this.vals[i] = value;
        this.count++;
        return;
      }
      if (this.h1[i] === a && this.h2[i] === b) {
        this.vals[i] = value;
        return;
      }
    }
    throw new RangeError(`more than ${(this.mask + 1) / 2} strings`);
  }
}

const out: [number, number] = [0, 0];

function hashes(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  out[0] = a | 0;
  out[1] = (b ^ (b >>> 13)) | 0;
  return out;
}
