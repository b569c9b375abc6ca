/**
 * Mesos-DNS answers, rule for rule as mesos-dns HandleMesos: which records go in which section,
 * NXDOMAIN vs NOERROR-no-data, SOA/NS in the authority section, additional A/AAAA for SRV
 * targets, shuffled answers, truncation. The bytes are mesos-dns's: the question as the client
 * spelled it, SRV/SOA/NS owners equal to it, A/AAAA owners lower-cased, names compressed against
 * earlier names of the same case (miekg), the cut decided on miekg's size estimate
 * (reference.ts). Encoded responses are cached per (question, type) for the lifetime of one
 * record set, several shuffles each, and reused by patching ID, RD/CD and the question.
 */
import { Flag, HEADER_SIZE, MessageBuilder, RRType, Rcode, TCP_LIMIT, UDP_LIMIT, patchReply, skipName, type Query, type ResourceRecord } from '../wire/index.js';
import { splitSrv, type RecordSet } from './recordset.js';
import { estimateLen, lookupName, presentName, referenceCut } from './reference.js';

export interface AnswerConfig {
  domain: string;
  ttl: number;
  srvWeight: number;
  soaMname: string;
  soaRname: string;
  soaSerial: number;
  soaRefresh: number;
  soaRetry: number;
  soaExpire: number;
  recurseOn: boolean;
  setTruncateBit: boolean;
  edns0On: boolean;
}

interface Built {
  rcode: number;
  answers: ResourceRecord[];
  authority: ResourceRecord[];
  additional: ResourceRecord[];
}

interface Prebuilt {
  tcp: Buffer[];
  udp: Buffer[];
  rcode: number;
  next: number;
}

/** Reorders answers (in place); tests inject a fixed order. */
export type Shuffler = <T>(a: T[]) => T[];

const MAX_VARIANTS = 8;
const OPT_SIZE = 11;

export class Answers {
  /** Queries whose name has no capital: keyed by the parsed (lower-case) name, then type. */
  private cache = new Map<string, Map<number, Prebuilt>>();
  /** Queries with capitals: keyed by the question name's wire bytes, then type. */
  private exactCache = new Map<string, Map<number, Prebuilt>>();
  private cached = 0;
  constructor(
    readonly rs: RecordSet,
    readonly cfg: AnswerConfig,
    private readonly maxCached = 200_000,
    private readonly order: Shuffler = shuffle,
  ) {}

  /** Encoded reply for a query inside the domain (a buffer of its own); `rcode` for metrics. */
  respond(query: Buffer, q: Query, udp: boolean): { msg: Buffer; rcode: number } {
    if (!this.cacheable(q, udp)) return this.slow(query, q, udp);
    const p = this.prebuilt(query, q);
    const src = this.rotate(p, udp);
    const msg = Buffer.allocUnsafe(src.length);
    src.copy(msg);
    patchReply(msg, query, q);
    return { msg, rcode: p.rcode };
  }

  /** rcode of the last reply handed out by shared(). */
  lastRcode = 0;
  private lastP?: Prebuilt;
  private lastI = 0;

  /**
   * The allocation-free UDP path: the cached reply itself, patched in place for this query, or
   * undefined when the query needs the slow path (respond()). The buffer is only valid until the
   * next call; a caller that could not send it at once (socket send queue not empty) must call
   * detachLast() so later queries do not patch a buffer still waiting to be sent.
   */
  shared(query: Buffer, q: Query): Buffer | undefined {
    if (!this.cacheable(q, true)) return undefined;
    const p = this.prebuilt(query, q);
    const i = p.next;
    const msg = this.rotate(p, true);
    if (!patchReply(msg, query, q)) return undefined;
    this.lastRcode = p.rcode;
    this.lastP = p;
    this.lastI = i;
    return msg;
  }

  /** Give the last shared() reply a fresh copy in the cache; the old buffer stays with its sender. */
  detachLast(): void {
    const p = this.lastP;
    if (!p) return;
    p.udp[this.lastI] = Buffer.from(p.udp[this.lastI]!);
    this.lastP = undefined;
  }

  private cacheable(q: Query, udp: boolean): boolean {
    return !(q.qnameCompressed || (udp && this.cfg.edns0On && q.edns && q.ednsSize > UDP_LIMIT));
  }

  private prebuilt(query: Buffer, q: Query): Prebuilt {
    // The reply depends on the question's exact bytes (case decides what compresses), so a name
    // with capitals is cached under its wire bytes; without capitals the parsed name is the same key.
    const cache = q.qnameUpper ? this.exactCache : this.cache;
    const key = q.qnameUpper ? query.toString('latin1', HEADER_SIZE, q.questionEnd - 4) : q.qname;
    let byType = cache.get(key);
    let p = byType?.get(q.qtype);
    if (p) return p;
    p = this.prebuild(presentName(query), q.qtype, q.qclass);
    if (this.cached < this.maxCached) {
      if (!byType) cache.set(key, (byType = new Map()));
      byType.set(q.qtype, p);
      this.cached++;
    }
    return p;
  }

  private rotate(p: Prebuilt, udp: boolean): Buffer {
    const i = p.next;
    p.next = i + 1 === p.tcp.length ? 0 : i + 1;
    return udp ? p.udp[i]! : p.tcp[i]!;
  }

  private prebuild(question: string, qtype: number, qclass: number): Prebuilt {
    const b = this.build(question, qtype);
    const n = b.answers.length > 1 ? Math.min(MAX_VARIANTS, factorial(b.answers.length)) : 1;
    const p: Prebuilt = { tcp: [], udp: [], rcode: b.rcode, next: 0 };
    // One buffer for both transports when nothing is cut over UDP (shared() patches only ID, flags and question).
    const both = (bb: Built): [Buffer, Buffer] => {
      const tcp = this.encode(question, qtype, qclass, 0, bb, TCP_LIMIT);
      const whole = tcp.length <= UDP_LIMIT && estimateLen(question, bb.answers, bb.authority, bb.additional) <= UDP_LIMIT;
      return [tcp, whole ? tcp : this.encode(question, qtype, qclass, 0, bb, UDP_LIMIT)];
    };
    const [tcp0, udp0] = both(b);
    p.tcp.push(tcp0);
    p.udp.push(udp0);
    if (n === 1) return p;
    // Answers that differ only in their address (all A or all AAAA of one name, nothing else):
    // a shuffled variant is the first one with the addresses permuted, no re-encoding.
    const rdata = sameShapeAnswers(b) ? rdataOffsets(tcp0, b.answers.length) : undefined;
    for (let i = 1; i < n; i++) {
      if (rdata) {
        const order = this.order(b.answers.map((_, j) => j));
        const size = b.answers[0]!.type === 'A' ? 4 : 16;
        p.tcp.push(permuteRdata(tcp0, tcp0, rdata, order, size));
        p.udp.push(permuteRdata(udp0, tcp0, rdata, order, size));
        continue;
      }
      const [tcp, udp] = both({ ...b, answers: this.order([...b.answers]) });
      p.tcp.push(tcp);
      p.udp.push(udp);
    }
    return p;
  }

  /** Uncached path: compressed questions, EDNS0 sizes (EDNS0On). */
  private slow(query: Buffer, q: Query, udp: boolean): { msg: Buffer; rcode: number } {
    const question = presentName(query);
    const b = this.build(question, q.qtype);
    this.order(b.answers);
    const edns = udp && this.cfg.edns0On && q.edns && q.ednsSize > UDP_LIMIT;
    const limit = edns ? q.ednsSize : udp ? UDP_LIMIT : TCP_LIMIT;
    const msg = this.encode(question, q.qtype, q.qclass, q.flags, b, edns ? limit - OPT_SIZE : limit, edns ? 4096 : 0);
    msg.writeUInt16BE(q.id, 0);
    return { msg, rcode: b.rcode };
  }

  /** The reply as mesos-dns packs it: cut as its truncate() decides, then compressed like miekg. */
  private encode(question: string, qtype: number, qclass: number, qflags: number, b: Built, limit: number, optSize = 0): Buffer {
    const flags = Flag.AA | (this.cfg.recurseOn ? Flag.RA : 0) | (qflags & (Flag.RD | Flag.CD));
    const cut = referenceCut(question, b.answers, b.authority, b.additional, limit, this.cfg.setTruncateBit);
    const mb = new MessageBuilder({ id: 0, flags, rcode: b.rcode, exactCase: true });
    mb.question(question, qtype, qclass);
    for (let i = 0; i < cut.answers; i++) mb.add('answer', b.answers[i]!);
    for (const rr of b.authority) mb.add('authority', rr);
    if (cut.additional) for (const rr of b.additional) mb.add('additional', rr);
    if (optSize) mb.opt(optSize);
    const msg = mb.finish(TCP_LIMIT, false);
    if (cut.tc) msg[2]! |= Flag.TC >> 8;
    return msg;
  }

  /**
   * The records of the reply (HandleMesos + handleEmpty) to `question` (presentation form, as
   * the client spelled it): SRV, SOA and NS owners are the question itself, A/AAAA owners and
   * the looked-up name are the question lower-cased with its `.*` removed.
   */
  build(question: string, qtype: number): Built {
    const name = lookupName(question);
    const out: Built = { rcode: Rcode.NOERROR, answers: [], authority: [], additional: [] };
    const any = qtype === RRType.ANY;
    if (qtype === RRType.SRV || any) this.srv(name, question, out);
    if (qtype === RRType.A || any) this.addrs('A', name, out);
    if (qtype === RRType.AAAA || any) this.addrs('AAAA', name, out);
    if (qtype === RRType.SOA || any) out.authority.push(this.soa(question));
    if (qtype === RRType.NS || any) out.authority.push({ type: 'NS', name: question, ttl: this.cfg.ttl, target: this.cfg.soaMname });
    if (out.answers.length === 0 && qtype !== RRType.SOA && qtype !== RRType.NS && qtype !== RRType.SRV) {
      out.rcode = this.rs.has(name) ? Rcode.NOERROR : Rcode.NXDOMAIN;
      out.authority.push(this.soa(question));
    }
    return out;
  }

  soa(name: string): ResourceRecord {
    const c = this.cfg;
    return { type: 'SOA', name, ttl: c.ttl, mname: c.soaMname, rname: c.soaRname, serial: c.soaSerial, refresh: c.soaRefresh, retry: c.soaRetry, expire: c.soaExpire, minimum: c.ttl };
  }

  private addrs(kind: 'A' | 'AAAA', name: string, out: Built): void {
    for (const ip of this.rs.map(kind).get(name) ?? []) out.answers.push({ type: kind, name, ttl: this.cfg.ttl, address: ip });
  }

  private srv(name: string, owner: string, out: Built): void {
    const seen = new Set<string>();
    for (const v of this.rs.srv.get(name) ?? []) {
      const { target, port } = splitSrv(v);
      out.answers.push({ type: 'SRV', name: owner, ttl: this.cfg.ttl, priority: 0, weight: this.cfg.srvWeight, port, target });
      if (seen.has(target)) continue;
      seen.add(target);
      for (const kind of ['A', 'AAAA'] as const) {
        const ip = this.rs.first(kind, target);
        if (ip) out.additional.push({ type: kind, name: target, ttl: this.cfg.ttl, address: ip });
      }
    }
  }
}

/** All answers A (or all AAAA) of the same name and TTL, and no other section. */
function sameShapeAnswers(b: Built): boolean {
  if (b.authority.length || b.additional.length) return false;
  const a0 = b.answers[0]!;
  if (a0.type !== 'A' && a0.type !== 'AAAA') return false;
  return b.answers.every((rr) => rr.type === a0.type && rr.name === a0.name && rr.ttl === a0.ttl);
}

/** Offsets of the RDATA of the first `count` answer records of an encoded message. */
function rdataOffsets(msg: Buffer, count: number): number[] {
  let off = skipName(msg, HEADER_SIZE) + 4;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    off = skipName(msg, off) + 10;
    out.push(off);
    off += msg.readUInt16BE(off - 2);
  }
  return out;
}

/**
 * A copy of `msg` whose answer j carries the address of answer order[j] of `full` (the untruncated
 * message `msg` is a prefix of, or `msg` itself). Answers cut from a truncated `msg` are skipped.
 */
function permuteRdata(msg: Buffer, full: Buffer, offsets: number[], order: number[], size: number): Buffer {
  const out = Buffer.from(msg);
  for (let j = 0; j < offsets.length; j++) {
    const dst = offsets[j]!;
    if (dst + size > out.length) break;
    const src = offsets[order[j]!]!;
    full.copy(out, dst, src, src + size);
  }
  return out;
}

function factorial(n: number): number {
  return n > 5 ? 120 : n <= 1 ? 1 : n * factorial(n - 1);
}

/** Fisher-Yates, in place. */
export function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
