/**
 * A cache of upstream answers (positive and negative, RFC 2308), keyed by question and by what
 * shapes the answer (transport, EDNS0, DO, CD). TTLs come from the answer, are capped, and count
 * down with the injected clock; a hit is the stored message with the client's ID and question
 * bytes patched in and its TTLs lowered by the time spent in the cache. Beyond the cap the least
 * recently used goes (CLOCK-style second chance, so a hit does not reorder the map).
 */
import type { Clock } from '../../common/clock.js';
import { cacheKey, keyBits } from './cache-key.js';
import { Flag, Rcode, RRType, skipName, type Query } from './wire.js';

/** A stored answer. */
export interface CacheEntry {
  msg: Buffer;
  storedAt: number;
  expires: number;
  /** Offsets of the TTL field of every record except OPT. */
  ttlOffsets: number[];
  /** Hit since it last reached the old end of the map (second chance before eviction). */
  used: boolean;
  /** The routing zone of the name (the request-duration label of a hit). */
  zone: string;
}

export class AnswerCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries: number,
    private readonly maxTtl: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The key of a parsed query (see cache-key.ts); undefined when its name is compressed (never cached). */
  static key(raw: Buffer, q: Query, transport: string): string | undefined {
    if (q.qnameCompressed) return undefined;
    return cacheKey(raw, q.questionEnd, keyBits(transport === 'tcp', q.edns, q.ednsDo, q.flags));
  }

  /** The cached answer for this query, ready to send, or undefined. */
  get(key: string, query: Buffer, questionEnd: number, sizeLimit: number): Buffer | undefined {
    const now = this.clock.now();
    const e = this.find(key, sizeLimit, now);
    return e && this.render(e, query, questionEnd, now);
  }

  /** The live entry for `key` that fits in `sizeLimit` (an expired one is dropped). */
  find(key: string, sizeLimit: number, now: number): CacheEntry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.expires) {
      this.entries.delete(key);
      return undefined;
    }
    if (e.msg.length > sizeLimit) return undefined;
    e.used = true; // eviction gives it a second chance: LRU order without moving it per hit
    return e;
  }

  /** A fresh copy of the entry with the client's ID and question bytes and TTLs lowered by the whole seconds spent here. */
  render(e: CacheEntry, query: Buffer, questionEnd: number, now: number): Buffer {
    const m = e.msg;
    const out = Buffer.allocUnsafe(m.length);
    m.copy(out);
    out[0] = query[0]!;
    out[1] = query[1]!;
    query.copy(out, 12, 12, questionEnd);
    const aged = Math.floor((now - e.storedAt) / 1000);
    if (aged > 0) {
      const offs = e.ttlOffsets;
      for (let i = 0; i < offs.length; i++) {
        const off = offs[i]!;
        const ttl = m.readUInt32BE(off);
        out.writeUInt32BE(ttl > aged ? ttl - aged : 0, off);
      }
    }
    return out;
  }

  /** Store an answer if it is cacheable (NOERROR with answers or NXDOMAIN/NODATA with SOA, not TC). */
  put(key: string, msg: Buffer, zone = '.'): void {
    const info = inspect(msg);
    if (!info || info.ttl <= 0) return;
    const now = this.clock.now();
    const life = Math.min(info.ttl, this.maxTtl);
    const copy = Buffer.from(msg);
    // No record may outlive the entry (capped TTLs, RFC 2308 negative TTL = min(SOA TTL, MINIMUM)).
    for (const off of info.ttlOffsets) if (copy.readUInt32BE(off) > life) copy.writeUInt32BE(life, off);
    this.entries.delete(key);
    this.entries.set(key, { msg: copy, storedAt: now, expires: now + life * 1000, ttlOffsets: info.ttlOffsets, used: false, zone });
    this.evict();
  }

  /** Drop the least recently used beyond the cap: oldest first, a hit entry moves to the new end once. */
  private evict(): void {
    let chances = this.entries.size;
    while (this.entries.size > this.maxEntries) {
      const [k, e] = this.entries.entries().next().value!;
      this.entries.delete(k);
      if (e.used && chances-- > 0) {
        e.used = false;
        this.entries.set(k, e);
      }
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

/** TTL to cache for, and where the TTLs are; undefined when the message must not be cached. */
export function inspect(msg: Buffer): { ttl: number; ttlOffsets: number[] } | undefined {
  if (msg.length < 12 || msg[2]! & (Flag.TC >> 8)) return undefined;
  const rcode = msg[3]! & 0xf;
  if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return undefined;
  const w = walkRecords(msg);
  if (!w) return undefined;
  const ttl = rcode === Rcode.NOERROR && w.answers > 0 ? w.answerTtl : w.negativeTtl;
  return Number.isFinite(ttl) ? { ttl, ttlOffsets: w.ttlOffsets } : undefined;
}

/**
 * Where the TTL of every record except OPT is, the smallest answer TTL and the negative TTL
 * (RFC 2308: min(SOA TTL, SOA MINIMUM) of an authority SOA); undefined for a cut or bad message.
 */
export function walkRecords(msg: Buffer): { ttlOffsets: number[]; answers: number; answerTtl: number; negativeTtl: number } | undefined {
  try {
    const qd = msg.readUInt16BE(4);
    const an = msg.readUInt16BE(6);
    const ns = msg.readUInt16BE(8);
    const ar = msg.readUInt16BE(10);
    let off = 12;
    for (let i = 0; i < qd; i++) off = skipName(msg, off) + 4;
    let answerTtl = Infinity;
    let negativeTtl = Infinity;
    const ttlOffsets: number[] = [];
    for (let i = 0; i < an + ns + ar; i++) {
      off = skipName(msg, off);
      if (off + 10 > msg.length) return undefined;
      const type = msg.readUInt16BE(off);
      const ttl = msg.readUInt32BE(off + 4);
      const rdlen = msg.readUInt16BE(off + 8);
      if (off + 10 + rdlen > msg.length) return undefined;
      if (type !== RRType.OPT) ttlOffsets.push(off + 4);
      if (i < an) answerTtl = Math.min(answerTtl, ttl);
      else if (i < an + ns && type === RRType.SOA && rdlen >= 20) negativeTtl = Math.min(ttl, msg.readUInt32BE(off + 10 + rdlen - 4));
      off += 10 + rdlen;
    }
    return { ttlOffsets, answers: an, answerTtl, negativeTtl };
  } catch {
    return undefined;
  }
}
