/**
 * The local zones (thisdcos.directory, spartan, localhost): answers are pre-encoded per name, type
 * and rotation, so a query costs a copy and a few byte patches. Rotation is round-robin per
 * (name, type). Unknown names get NXDOMAIN, known names without the type NODATA, both with the
 * zone's SOA in authority. UDP answers over the client's limit are cut at a record boundary with TC.
 * A new set of records rebuilds only the answers whose records changed: an answer whose (name, type)
 * has the same records as before is reused, so an update of one name among 10,000 encodes one
 * name's answers, not every name's.
 */
import type { ZoneRecord } from '../../contracts/index.js';
import { apexOf, builtinRecords, toResourceRecord } from './zone-data.js';
import { Flag, MessageBuilder, patchReply, Rcode, RRClass, RRType, type Query, type ResourceRecord } from './wire.js';

/** Prebuild every rotation up to this many records; beyond, rotations are built per query. */
const MAX_PREBUILT_ROTATIONS = 16;
const LOCAL_EDNS_SIZE = 1232;

interface Answer {
  rrs: ResourceRecord[];
  /** Whole responses (ID 0, no OPT) for each rotation, indexed by rotation start. */
  templates: Buffer[];
  /** Where the question ends in the templates; the client's must end at the same byte. */
  qend: number;
  next: number;
}

type Names = Map<string, Map<number, Answer>>;

/** Two records alike field by field (a TXT's texts element by element). */
function sameRecord(a: ResourceRecord, b: ResourceRecord): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) {
    const [u, v] = [x[k], y[k]];
    if (u === v) continue;
    if (!Array.isArray(u) || !Array.isArray(v) || u.length !== v.length || u.some((e, i) => e !== v[i])) return false;
  }
  return true;
}

const sameRecords = (a: ResourceRecord[], b: ResourceRecord[]): boolean => a.length === b.length && a.every((r, i) => sameRecord(r, b[i]!));

export class LocalZones {
  private names: Names = new Map();
  private soa = new Map<string, ResourceRecord>();
  private serial = 0;
  private counts = new Map<string, number>();

  constructor(private bindIps: string[] = []) {
    this.set([]);
  }

  /** Replace every record (snapshot `zones` part or zone file). Throws on a bad record, changing nothing. */
  set(records: Pick<ZoneRecord, 'name' | 'type' | 'data'>[]): void {
    const rrs = records.map(toResourceRecord);
    const serial = this.serial + 1;
    const all = [...builtinRecords(this.bindIps, serial), ...rrs];
    const names: Names = new Map();
    const byKey = new Map<string, ResourceRecord[]>();
    for (const rr of all) {
      const k = `${rr.name}|${RRType[rr.type]}`;
      let list = byKey.get(k);
      if (!list) byKey.set(k, (list = []));
      list.push(rr);
      this.addName(names, rr.name);
    }
    // The previous answer of the same name and type, reused when its records are the same.
    const answer = (name: string, type: number, rrs: ResourceRecord[]): Answer => {
      const was = this.names.get(name)?.get(type);
      return was && sameRecords(was.rrs, rrs) ? was : prebuild(name, type, rrs);
    };
    for (const [k, list] of byKey) {
      const [name, type] = k.split('|') as [string, string];
      names.get(name)!.set(Number(type), answer(name, Number(type), list));
    }
    for (const [name, types] of names) {
      const any = [...types.values()].flatMap((a) => a.rrs);
      if (any.length) types.set(RRType.ANY, answer(name, RRType.ANY, any));
    }
    this.names = names;
    this.serial = serial;
    this.soa = new Map(all.filter((r) => r.type === 'SOA').map((r) => [r.name, r]));
    this.counts = new Map();
    for (const r of rrs) this.counts.set(apexOf(r.name)!, (this.counts.get(apexOf(r.name)!) ?? 0) + 1);
  }

  setBindIps(ips: string[], records: Pick<ZoneRecord, 'name' | 'type' | 'data'>[]): void {
    this.bindIps = ips;
    this.set(records);
  }

  /** Records from the snapshot/zone file per zone (for the zone_records gauge). */
  recordCounts(): Map<string, number> {
    return this.counts;
  }

  /** The answer to a query routed here. `limit` is the size the client accepts. */
  answer(raw: Buffer, q: Query, limit: number): Buffer {
    if (q.qclass !== RRClass.IN && q.qclass !== RRClass.ANY) return this.build(raw, q, Rcode.REFUSED, [], limit);
    const types = this.names.get(q.qname);
    if (!types) return this.build(raw, q, Rcode.NXDOMAIN, [], limit);
    const a = types.get(q.qtype) ?? (q.qtype !== RRType.CNAME ? types.get(RRType.CNAME) : undefined);
    if (!a) return this.build(raw, q, Rcode.NOERROR, [], limit);
    const rot = a.next++ % a.rrs.length;
    if (a.next >= 1 << 30) a.next = 0;
    const t = a.templates[rot];
    const size = (t?.length ?? Infinity) + (q.edns ? 11 : 0);
    if (!t || q.qnameCompressed || size > limit || q.questionEnd !== a.qend) {
      return this.build(raw, q, Rcode.NOERROR, rotate(a.rrs, rot), limit);
    }
    return patch(t, raw, q, size);
  }

  private build(raw: Buffer, q: Query, rcode: number, rrs: ResourceRecord[], limit: number): Buffer {
    const b = new MessageBuilder({ id: q.id, flags: replyFlags(q), rcode });
    b.question(q.qname, q.qtype, q.qclass);
    for (const rr of rrs) b.add('answer', rr);
    if (!rrs.length && rcode !== Rcode.REFUSED) {
      const soa = this.soa.get(apexOf(q.qname) ?? '');
      if (soa) b.add('authority', soa);
    }
    if (q.edns) b.opt(LOCAL_EDNS_SIZE);
    const out = b.finish(limit);
    // Echo the client's spelling of the name when the lengths allow (0x20 case randomisation).
    if (!q.qnameCompressed && out.length >= q.questionEnd) raw.copy(out, 12, 12, q.questionEnd);
    return out;
  }

  private addName(names: Names, name: string): void {
    const apex = apexOf(name)!;
    for (let n = name; ; n = n.slice(n.indexOf('.') + 1)) {
      if (!names.has(n)) names.set(n, new Map());
      if (n === apex) break;
    }
  }
}

function replyFlags(q: Query): number {
  return Flag.QR | Flag.AA | Flag.RA | (q.flags & (0x7800 | Flag.RD | Flag.CD));
}

function rotate<T>(list: T[], start: number): T[] {
  return start === 0 ? list : [...list.slice(start), ...list.slice(0, start)];
}

function prebuild(name: string, qtype: number, rrs: ResourceRecord[]): Answer {
  const templates: Buffer[] = [];
  const n = Math.min(rrs.length, MAX_PREBUILT_ROTATIONS);
  for (let i = 0; i < n; i++) {
    const b = new MessageBuilder({ id: 0, flags: Flag.QR | Flag.AA | Flag.RA }); // RD/CD patched per query
    b.question(name, qtype, RRClass.IN);
    for (const rr of rotate(rrs, i)) b.add('answer', rr);
    templates.push(b.finish());
  }
  return { rrs, templates, qend: 12 + name.length + 2 + 4, next: 0 };
}

/** Copy a template, patch in the ID, flags, the client's question bytes and an OPT record. */
function patch(t: Buffer, raw: Buffer, q: Query, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  t.copy(out);
  patchReply(out, raw, q);
  if (q.edns) {
    const at = t.length;
    out[at] = 0;
    out.writeUInt16BE(RRType.OPT, at + 1);
    out.writeUInt16BE(LOCAL_EDNS_SIZE, at + 3);
    out.writeUInt32BE(0, at + 5);
    out.writeUInt16BE(0, at + 9);
    out.writeUInt16BE(1, 10);
  }
  return out;
}
