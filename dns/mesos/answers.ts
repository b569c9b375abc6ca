/**
 * Mesos-DNS answers, rule for rule as mesos-dns HandleMesos: which records go in which section,
 * NXDOMAIN vs NOERROR-no-data, SOA/NS in the authority section, additional A/AAAA for SRV
 * targets, shuffled answers, truncation. Encoded responses are cached per (name, type) for the
 * lifetime of one record set, several shuffles each, and reused by patching ID and question.
 */
import { Flag, MessageBuilder, RRType, Rcode, TCP_LIMIT, UDP_LIMIT, patchReply, type Query, type ResourceRecord } from '../wire/index.js';
import { splitSrv, type RecordSet } from './recordset.js';

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

const MAX_VARIANTS = 8;

export class Answers {
  private cache = new Map<string, Map<number, Prebuilt>>();
  private cached = 0;
  constructor(
    readonly rs: RecordSet,
    readonly cfg: AnswerConfig,
    private readonly maxCached = 200_000,
  ) {}

  /** Encoded reply for a query inside the domain; `rcode` for metrics. */
  respond(query: Buffer, q: Query, udp: boolean): { msg: Buffer; rcode: number } {
    const wild = q.qname.includes('.*');
    if (wild || q.qnameCompressed || (udp && this.cfg.edns0On && q.edns && q.ednsSize > UDP_LIMIT)) return this.slow(q, udp, wild);
    let byType = this.cache.get(q.qname);
    let p = byType?.get(q.qtype);
    if (!p) {
      p = this.prebuild(q.qname, q.qtype);
      if (this.cached < this.maxCached) {
        if (!byType) this.cache.set(q.qname, (byType = new Map()));
        byType.set(q.qtype, p);
        this.cached++;
      }
    }
    const i = p.next;
    p.next = i + 1 === p.tcp.length ? 0 : i + 1;
    const src = udp ? p.udp[i]! : p.tcp[i]!;
    const msg = Buffer.allocUnsafe(src.length);
    src.copy(msg);
    patchReply(msg, query, q);
    return { msg, rcode: p.rcode };
  }

  private prebuild(name: string, qtype: number): Prebuilt {
    const b = this.build(name, qtype);
    const n = b.answers.length > 1 ? Math.min(MAX_VARIANTS, factorial(b.answers.length)) : 1;
    const p: Prebuilt = { tcp: [], udp: [], rcode: b.rcode, next: 0 };
    for (let i = 0; i < n; i++) {
      const answers = i === 0 ? b.answers : shuffle([...b.answers]);
      const mb = this.encode(name, qtype, 0, { ...b, answers });
      p.tcp.push(mb.finish(TCP_LIMIT, this.cfg.setTruncateBit));
      p.udp.push(mb.finish(UDP_LIMIT, this.cfg.setTruncateBit));
    }
    return p;
  }

  /** Uncached path: wildcard-stripped names, compressed questions, EDNS0 sizes. */
  private slow(q: Query, udp: boolean, wild: boolean): { msg: Buffer; rcode: number } {
    const name = wild ? q.qname.split('.*').join('') : q.qname;
    const b = this.build(name, q.qtype);
    shuffle(b.answers);
    const mb = this.encode(q.qname, q.qtype, q.flags, b);
    let limit = udp ? UDP_LIMIT : TCP_LIMIT;
    if (this.cfg.edns0On && q.edns) {
      if (udp) limit = Math.max(UDP_LIMIT, q.ednsSize);
      mb.opt(4096);
    }
    const msg = mb.finish(limit, this.cfg.setTruncateBit);
    msg.writeUInt16BE(q.id, 0);
    return { msg, rcode: b.rcode };
  }

  private encode(qname: string, qtype: number, qflags: number, b: Built): MessageBuilder {
    const flags = Flag.AA | (this.cfg.recurseOn ? Flag.RA : 0) | (qflags & (Flag.RD | Flag.CD));
    const mb = new MessageBuilder({ id: 0, flags, rcode: b.rcode });
    // A/AAAA owners are the lower-cased name; SRV/SOA/NS owners echo the question (mesos-dns).
    const ownersAreQuestion = !b.answers.some((rr) => rr.type === 'A' || rr.type === 'AAAA');
    mb.question(qname, qtype, 1, { compress: ownersAreQuestion });
    for (const rr of b.answers) mb.add('answer', rr);
    for (const rr of b.authority) mb.add('authority', rr);
    for (const rr of b.additional) mb.add('additional', rr);
    return mb;
  }

  /** The records of the reply (HandleMesos + handleEmpty). */
  build(name: string, qtype: number): Built {
    const out: Built = { rcode: Rcode.NOERROR, answers: [], authority: [], additional: [] };
    const any = qtype === RRType.ANY;
    if (qtype === RRType.SRV || any) this.srv(name, out);
    if (qtype === RRType.A || any) this.addrs('A', name, out);
    if (qtype === RRType.AAAA || any) this.addrs('AAAA', name, out);
    if (qtype === RRType.SOA || any) out.authority.push(this.soa(name));
    if (qtype === RRType.NS || any) out.authority.push({ type: 'NS', name, ttl: this.cfg.ttl, target: this.cfg.soaMname });
    if (out.answers.length === 0 && qtype !== RRType.SOA && qtype !== RRType.NS && qtype !== RRType.SRV) {
      out.rcode = this.rs.has(name) ? Rcode.NOERROR : Rcode.NXDOMAIN;
      out.authority.push(this.soa(name));
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

  private srv(name: string, out: Built): void {
    const seen = new Set<string>();
    for (const v of this.rs.srv.get(name) ?? []) {
      const { target, port } = splitSrv(v);
      out.answers.push({ type: 'SRV', name, ttl: this.cfg.ttl, priority: 0, weight: this.cfg.srvWeight, port, target });
      if (seen.has(target)) continue;
      seen.add(target);
      for (const kind of ['A', 'AAAA'] as const) {
        const ip = this.rs.first(kind, target);
        if (ip) out.additional.push({ type: kind, name: target, ttl: this.cfg.ttl, address: ip });
      }
    }
  }
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
