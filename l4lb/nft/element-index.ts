/**
 * Elements held as byte ranges of the buffers they arrived or were encoded in, found by their key
 * bytes through an open-addressing hash table of typed arrays: diffing 70,000 elements on each
 * side allocates no string or object per element (a reconcile's garbage grew V8's young
 * generation, and the agent's RSS with it, by 20-30 MB).
 */
import { DATA_VALUE, DATA_VERDICT, ELEM_DATA, ELEM_KEY, NLA_TYPE_MASK, VERDICT_CHAIN, VERDICT_CODE } from './encode.js';
import { eachAttr } from './decode.js';

/** The end of the attribute the last `find` found. */
let foundEnd = 0;

/** The payload start of the first attribute of `type` in buf[from, to) (its end in foundEnd), or -1; allocates nothing. */
function find(buf: Buffer, from: number, to: number, type: number): number {
  let at = from;
  while (at + 4 <= to) {
    const len = buf[at]! | (buf[at + 1]! << 8);
    if (len < 4 || at + len > to) return -1;
    if (((buf[at + 2]! | (buf[at + 3]! << 8)) & NLA_TYPE_MASK) === type) {
      foundEnd = at + len;
      return at + 4;
    }
    at += (len + 3) & ~3;
  }
  return -1;
}

/** Where a LIST_ELEM payload's parts sit, into out[i..i+6): key value start/end, data start/end (-1 when none), element start/end. */
export function elementRanges(buf: Buffer, s: number, e: number, out: Int32Array, i: number): boolean {
  const key = find(buf, s, e, ELEM_KEY);
  if (key < 0) return false;
  const kv = find(buf, key, foundEnd, DATA_VALUE);
  if (kv < 0) return false;
  out[i] = kv;
  out[i + 1] = foundEnd;
  const data = find(buf, s, e, ELEM_DATA);
  out[i + 2] = data;
  out[i + 3] = data < 0 ? -1 : foundEnd;
  out[i + 4] = s;
  out[i + 5] = e;
  return true;
}

function hash(buf: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

function sameBytes(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = 0; i < ae - as; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

function cstrEnd(buf: Buffer, s: number, e: number): number {
  let x = s;
  while (x < e && buf[x] !== 0) x++;
  return x;
}

/**
 * Two data attributes' payloads compared by meaning: a value's bytes, or a verdict's code and
 * chain (the kernel's nesting flags and padding aside). Start -1: no data.
 */
export function sameData(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (as < 0 || bs < 0) return as < 0 && bs < 0;
  const va = find(a, as, ae, DATA_VALUE);
  const vae = foundEnd;
  const vb = find(b, bs, be, DATA_VALUE);
  const vbe = foundEnd;
  if (va >= 0 || vb >= 0) return va >= 0 && vb >= 0 && sameBytes(a, va, vae, b, vb, vbe);
  const da = find(a, as, ae, DATA_VERDICT);
  const dae = foundEnd;
  const db = find(b, bs, be, DATA_VERDICT);
  const dbe = foundEnd;
  if (da < 0 || db < 0) return false;
  const ca = find(a, da, dae, VERDICT_CODE);
  const cae = foundEnd;
  const cb = find(b, db, dbe, VERDICT_CODE);
  if (ca < 0 || cb < 0 || !sameBytes(a, ca, cae, b, cb, foundEnd)) return false;
  const na = find(a, da, dae, VERDICT_CHAIN);
  const nae = foundEnd;
  const nb = find(b, db, dbe, VERDICT_CHAIN);
  const nbe = foundEnd;
  if (na < 0 || nb < 0) return na < 0 && nb < 0;
  return sameBytes(a, na, cstrEnd(a, na, nae), b, nb, cstrEnd(b, nb, nbe));
}

export class ElementIndex {
  /** Per element: key start/end, data start/end, element start/end in `bufs[owner[i]]`. */
  private readonly at: Int32Array;
  private readonly owner: Uint16Array;
  private readonly table: Int32Array;
  private readonly mask: number;
  /** Elements found by `take`. */
  readonly taken: Uint8Array;
  readonly size: number;

  /** `each` calls its visitor with each LIST_ELEM payload as [index into `bufs`, start, end] (twice: count, then fill). */
  constructor(
    readonly bufs: Buffer[],
    each: (visit: (b: number, s: number, e: number) => void) => void,
  ) {
    let n = 0;
    each(() => n++);
    this.at = new Int32Array(n * 6);
    this.owner = new Uint16Array(n);
    let cap = 16;
    while (cap < n * 2) cap <<= 1;
    this.mask = cap - 1;
    this.table = new Int32Array(cap).fill(-1);
    let i = 0;
    each((b, s, e) => {
      if (!elementRanges(bufs[b]!, s, e, this.at, i * 6)) return;
      this.owner[i] = b;
      const buf = bufs[b]!;
      let slot = hash(buf, this.at[i * 6]!, this.at[i * 6 + 1]!) & this.mask;
      while (this.table[slot]! >= 0) slot = (slot + 1) & this.mask;
      this.table[slot] = i++;
    });
    this.size = i;
    this.taken = new Uint8Array(i);
  }

  /** The element whose key bytes are buf[s, e), or -1. */
  find(buf: Buffer, s: number, e: number): number {
    let slot = hash(buf, s, e) & this.mask;
    for (;;) {
      const i = this.table[slot]!;
      if (i < 0) return -1;
      if (sameBytes(this.bufs[this.owner[i]!]!, this.at[i * 6]!, this.at[i * 6 + 1]!, buf, s, e)) return i;
      slot = (slot + 1) & this.mask;
    }
  }

  buffer(i: number): Buffer {
    return this.bufs[this.owner[i]!]!;
  }
  keyStart(i: number): number {
    return this.at[i * 6]!;
  }
  keyEnd(i: number): number {
    return this.at[i * 6 + 1]!;
  }
  dataStart(i: number): number {
    return this.at[i * 6 + 2]!;
  }
  dataEnd(i: number): number {
    return this.at[i * 6 + 3]!;
  }
  /** The LIST_ELEM payload of element i. */
  element(i: number): Buffer {
    return this.buffer(i).subarray(this.at[i * 6 + 4]!, this.at[i * 6 + 5]!);
  }
}

/** An index over the LIST_ELEM attributes written back to back in buf[0, len). */
export function indexPacked(buf: Buffer, len: number): ElementIndex {
  return new ElementIndex([buf], (visit) => eachAttr(buf, 0, len, (_t, s, e) => visit(0, s, e)));
}
