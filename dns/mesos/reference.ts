/**
 * What mesos-dns v0.7 (through miekg/dns v1.0.15) does to a reply that the wire code does not do by
 * itself: the question name in miekg's presentation form (letter case kept, `\X` and `\DDD`
 * escapes), and the cut of an oversized reply, which mesos-dns decides on miekg's size *estimate*
 * (`Msg.Len()` with compression), not on the encoded size. Written from the documented behaviour of
 * those functions; the estimate's quirks are kept because they decide how many records a cut reply
 * holds.
 */
import { HEADER_SIZE, type ResourceRecord } from '../wire/index.js';

/** The question name as miekg unpacks it: case kept, `.()\;@"` and space escaped, unprintables as \DDD, trailing dot. */
export function presentName(buf: Uint8Array, start = HEADER_SIZE): string {
  let s = '';
  let off = start;
  for (let jumps = 0; jumps < 128 && off < buf.length; ) {
    const l = buf[off]!;
    if (l === 0) break;
    if ((l & 0xc0) === 0xc0) {
      off = ((l & 0x3f) << 8) | buf[off + 1]!;
      jumps++;
      continue;
    }
    for (let i = off + 1; i <= off + l; i++) {
      const c = buf[i]!;
      if (c === 0x2e || c === 0x28 || c === 0x29 || c === 0x3b || c === 0x20 || c === 0x40 || c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
      else if (c < 32 || c >= 127) s += '\\' + String(c).padStart(3, '0');
      else s += String.fromCharCode(c);
    }
    s += '.';
    off += l + 1;
  }
  return s === '' ? '.' : s;
}

/** mesos-dns cleanWild then strings.ToLower (ASCII only: other bytes are \DDD escapes here), without the trailing dot. */
export function lookupName(present: string): string {
  const clean = present.includes('.*') ? present.split('.*').join('') : present;
  const lower = clean.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  return lower === '.' ? '' : lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

const MAX_OFFSET = 16384;

/** Suffixes already seen (a Set, or a Set under an overlay). */
interface Known {
  has(s: string): boolean;
  add(s: string): unknown;
}

function fqdn(n: string): string {
  return n === '' ? '.' : n.endsWith('.') ? n : n + '.';
}

/** miekg NextLabel: start of the next label after `off` in presentation text, and whether the name ended. */
function nextLabel(s: string, off: number): [number, boolean] {
  let quote = false;
  let i = off;
  for (; i < s.length - 1; i++) {
    const c = s[i];
    if (c === '\\') quote = !quote;
    else if (c === '.') {
      if (quote) {
        quote = false;
        continue;
      }
      return [i + 1, false];
    } else quote = false;
  }
  return [i + 1, true];
}

function labelStarts(s: string): number[] {
  if (s === '.') return [];
  const out = [0];
  for (let off = 0; ; ) {
    const [next, end] = nextLabel(s, off);
    if (end) return out;
    out.push(next);
    off = next;
  }
}

/** Length of the longest suffix of `s` already known (the estimate's search), or -1. */
function search(c: Known, s: string): number {
  for (let off = 0; ; ) {
    if (c.has(s.slice(off))) return s.length - off;
    const [next, end] = nextLabel(s, off);
    if (end) return -1;
    off = next;
  }
}

/** Remember the suffixes of `s` at their estimated offsets; returns the bytes it estimates they add. */
function remember(c: Known, s: string, at: number): number {
  if (at > MAX_OFFSET || c.has(s)) return 0;
  let cur = at;
  let prev = s;
  const starts = labelStarts(s);
  for (let j = 0; j < starts.length; j++) {
    const pref = s.slice(starts[j]);
    cur += prev.length - pref.length;
    prev = pref;
    if (!c.has(pref)) {
      if (cur < MAX_OFFSET) c.add(pref);
    } else return cur - at + (j > 0 ? 2 : 0);
  }
  return cur - at;
}

/** A record with presentation names (trailing dots). */
type Rr = ResourceRecord;

function uncompressedLen(r: Rr): number {
  const head = fqdn(r.name).length + 1 + 10;
  switch (r.type) {
    case 'A':
      return head + 4;
    case 'AAAA':
      return head + 16;
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return head + fqdn(r.target).length + 1;
    case 'SRV':
      return head + 6 + fqdn(r.target).length + 1;
    case 'SOA':
      return head + fqdn(r.mname).length + 1 + fqdn(r.rname).length + 1 + 20;
    case 'TXT':
      return head + r.texts.reduce((n, t) => n + Buffer.byteLength(t) + 1, 0);
  }
}

/** A set of known suffixes seen through an overlay: the authority section estimated after k answers without copying. */
class Layered {
  readonly top = new Set<string>();
  constructor(readonly base: Set<string>) {}
  has(s: string): boolean {
    return this.top.has(s) || this.base.has(s);
  }
  add(s: string): void {
    this.top.add(s);
  }
}

/** The estimate of one record at `len` (remembering its names in `c`); returns its size. */
function recordLen(c: Known, len: number, r: Rr): number {
  const owner = fqdn(r.name);
  let x = uncompressedLen(r);
  const k = search(c, owner);
  if (k >= 0) x += 1 - k;
  remember(c, owner, len);
  // The RDATA names are searched before any of them is remembered; an SOA counts only when both hit.
  if (r.type === 'NS') {
    const k1 = search(c, fqdn(r.target));
    if (k1 >= 0) x += 1 - k1;
  } else if (r.type === 'SOA') {
    const k1 = search(c, fqdn(r.mname));
    const k2 = search(c, fqdn(r.rname));
    if (k1 >= 0 && k2 >= 0) x += 1 - (k1 + k2);
  }
  let cur = len + x;
  if (r.type === 'SRV' || r.type === 'NS') {
    cur -= fqdn(r.target).length + 1;
    remember(c, fqdn(r.target), cur);
  } else if (r.type === 'SOA') {
    cur -= fqdn(r.mname).length + 1;
    cur += remember(c, fqdn(r.mname), cur);
    cur -= fqdn(r.rname).length + 1;
    remember(c, fqdn(r.rname), cur);
  }
  return x;
}

/** Estimate after the question: the set of known suffixes and the length so far. */
function afterQuestion(question: string): { c: Set<string>; len: number } {
  const c = new Set<string>();
  remember(c, question, HEADER_SIZE);
  return { c, len: HEADER_SIZE + question.length + 1 + 4 };
}

/** miekg's compressed-length estimate of a reply to `question` (presentation form) with these sections. */
export function estimateLen(question: string, answer: readonly Rr[], authority: readonly Rr[], additional: readonly Rr[], stopOver = Infinity): number {
  let { c, len } = afterQuestion(question);
  for (const rrs of [answer, authority, additional]) {
    for (const r of rrs) {
      len += recordLen(c, len, r);
      // Every record adds at least 12 bytes: once over, the whole is over.
      if (len > stopOver) return len;
    }
  }
  return len;
}

export interface Cut {
  /** Answers kept (from the front). */
  answers: number;
  /** Additional records kept (all or none). */
  additional: boolean;
  /** TC to set. */
  tc: boolean;
}

/**
 * mesos-dns truncate(): over `max` by the estimate, drop every additional record; if still not
 * under `max`, keep the most answers (binary search, as Go's sort.Search) under it. The authority
 * section is never cut. TC is set when anything was over and SetTruncateBit is on.
 */
export function referenceCut(question: string, answer: readonly Rr[], authority: readonly Rr[], additional: readonly Rr[], max: number, setTruncateBit: boolean): Cut {
  const n = answer.length;
  if (estimateLen(question, answer, authority, additional, max) <= max) return { answers: n, additional: true, tc: false };
  const tc = setTruncateBit;
  // f[k]: the estimate with the first k answers and the authority section (no additional), each
  // computed once in one pass; past the first k whose answers alone reach max, all are over.
  const f: number[] = [];
  let { c, len } = afterQuestion(question);
  for (let k = 0; k <= n; k++) {
    const layer = new Layered(c);
    let total = len;
    for (const r of authority) total += recordLen(layer, total, r);
    f.push(total);
    if (k === n || len >= max) break;
    len += recordLen(c, len, answer[k]!);
  }
  const at = (k: number) => (k < f.length ? f[k]! : Infinity);
  if (at(n) < max) return { answers: n, additional: false, tc };
  // Go's sort.Search over "drop d answers from the end": the smallest d whose estimate is under max.
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const h = (lo + hi) >>> 1;
    if (!(at(n - h) < max)) lo = h + 1;
    else hi = h;
  }
  return { answers: n - lo, additional: false, tc };
}
