/**
 * The local zones (thisdcos.directory, spartan, localhost): answers are pre-encoded per name, type
 * and rotation, so a query costs a copy and a few byte patches. Rotation is round-robin per
 * (name, type). Unknown names get NXDOMAIN, known names without the type NODATA, both with the
 * zone's SOA in authority. UDP answers over the client's limit are cut at a record boundary with TC.
 * A new set of records costs what changed: it is diffed with the previous one by object identity
 * (snapshot records are never mutated; each is parsed once), and only the names of records added or
 * removed, their parents and the built-in names (the SOA serial moves) are rebuilt; within those an
 * answer whose (name, type) has the same records as before is reused. Records kept in a new order
 * (or repeated) rebuild every name, as do new bind addresses.
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

/** What a zone record (an input object) became: cached per object, as snapshot records are never mutated. */
interface Parsed {
  rr: ResourceRecord;
  apex: string;
}

export class LocalZones {
  private names: Names = new Map();
  private soa = new Map<string, ResourceRecord>();
  private serial = 0;
  private counts = new Map<string, number>();
  /** Per name: how many records (built-in or given) have this name or one below it; 0 means gone. */
  private refs = new Map<string, number>();
  private readonly parsed = new WeakMap<object, Parsed>();
  /** The last input array and its objects: an update is diffed against them by identity. */
  private prev: readonly object[] | undefined;
  private prevSet = new Set<object>();

  constructor(private bindIps: string[] = []) {
    this.set([]);
  }

  /**
   * Replace every record (snapshot `zones` part or zone file). Throws on a bad record, changing
   * nothing. The records are taken as immutable: an object seen before is not parsed again, and
   * only the names of records added or removed (by identity) since the last set are rebuilt.
   */
  set(records: Pick<ZoneRecord, 'name' | 'type' | 'data'>[]): void {
    const parsed = records.map((r) => this.parse(r));
    const serial = this.serial + 1;
    const builtins = builtinRecords(this.bindIps, serial);
    const now = new Set<object>(records);
    const changed = this.prev && this.changedNames(records, parsed, now);
    if (changed) this.update(changed, builtins, parsed);
    else this.rebuild(builtins, parsed);
    this.serial = serial;
    this.soa = new Map(builtins.filter((r) => r.type === 'SOA').map((r) => [r.name, r]));
    this.counts = new Map();
    for (const p of parsed) this.counts.set(p.apex, (this.counts.get(p.apex) ?? 0) + 1);
    this.prev = records.slice(); // a copy: the caller may change its array and pass it again
    this.prevSet = now;
  }

  /** The prebuilt answers of a name by type (tests: an unchanged name keeps the same objects). */
  answersOf(name: string): ReadonlyMap<number, unknown> | undefined {
    return this.names.get(name);
  }

  private parse(r: Pick<ZoneRecord, 'name' | 'type' | 'data'>): Parsed {
    let p = this.parsed.get(r);
    if (!p) {
      const rr = toResourceRecord(r);
      this.parsed.set(r, (p = { rr, apex: apexOf(rr.name)! }));
    }
    return p;
  }

  /**
   * The names whose records changed since the last set (a record added or removed by identity), or
   * undefined when the records kept in both are not in the same order (then everything is rebuilt).
   */
  private changedNames(records: readonly object[], parsed: Parsed[], now: Set<object>): Map<string, number> | undefined {
    const prev = this.prev!;
    /** Name -> records gained (+) or lost (-) under it. */
    const changed = new Map<string, number>();
    const bump = (name: string, by: number) => changed.set(name, (changed.get(name) ?? 0) + by);
    let i = 0;
    let j = 0;
    for (;;) {
      while (i < records.length && !this.prevSet.has(records[i]!)) bump(parsed[i++]!.rr.name, 1);
      while (j < prev.length && !now.has(prev[j]!)) bump(this.parsed.get(prev[j++]!)!.rr.name, -1);
      if (i === records.length || j === prev.length) break;
      if (records[i++] !== prev[j++]) return undefined;
    }
    // The loops above stop at a kept record: one left over on either side means a new order or a duplicate.
    return i === records.length && j === prev.length ? changed : undefined;
  }

  /** Rebuild only the changed names, the built-in ones (the SOA serial moves) and their parents. */
  private update(changed: Map<string, number>, builtins: ResourceRecord[], parsed: Parsed[]): void {
    const refs = new Map<string, number>();
    const refOf = (n: string) => refs.get(n) ?? this.refs.get(n) ?? 0;
    for (const [name, by] of changed) {
      const apex = apexOf(name)!;
      for (let n = name; ; n = n.slice(n.indexOf('.') + 1)) {
        refs.set(n, refOf(n) + by);
        if (n === apex) break;
      }
    }
    const lists = new Map<string, ResourceRecord[]>();
    for (const name of changed.keys()) lists.set(name, []);
    for (const rr of builtins) lists.set(rr.name, []);
    for (const rr of builtins) lists.get(rr.name)!.push(rr);
    for (const p of parsed) lists.get(p.rr.name)?.push(p.rr);
    // Everything is built before anything is replaced: a failure changes nothing.
    const built = new Map<string, Map<number, Answer> | undefined>();
    for (const [name, n] of refs) if (n <= 0) built.set(name, undefined);
    for (const [name, list] of lists) {
      if (refOf(name) > 0) built.set(name, this.typesOf(name, list));
    }
    for (const [name, n] of refs) {
      if (n > 0) this.refs.set(name, n);
      else this.refs.delete(name);
    }
    for (const [name, types] of built) {
      if (types) this.names.set(name, types);
      else this.names.delete(name);
    }
    // A parent that gained its first record below it exists from now on (an empty non-terminal).
    for (const [name, n] of refs) if (n > 0 && !this.names.has(name)) this.names.set(name, new Map());
  }

  /** Rebuild every name (first set, new bind addresses, records reordered). */
  private rebuild(builtins: ResourceRecord[], parsed: Parsed[]): void {
    const lists = new Map<string, ResourceRecord[]>();
    const refs = new Map<string, number>();
    for (const rr of [...builtins, ...parsed.map((p) => p.rr)]) {
      let list = lists.get(rr.name);
      if (!list) lists.set(rr.name, (list = []));
      list.push(rr);
      const apex = apexOf(rr.name)!;
      for (let n = rr.name; ; n = n.slice(n.indexOf('.') + 1)) {
        refs.set(n, (refs.get(n) ?? 0) + 1);
        if (n === apex) break;
      }
    }
    const names: Names = new Map();
    for (const name of refs.keys()) names.set(name, lists.has(name) ? this.typesOf(name, lists.get(name)!) : new Map());
    this.names = names;
    this.refs = refs;
  }

  /**
   * A name's answers from its records in order: one per type in order of first appearance, then
   * ANY. The previous answer of the same name and type is reused when its records are the same.
   */
  private typesOf(name: string, list: ResourceRecord[]): Map<number, Answer> {
    const byType = new Map<number, ResourceRecord[]>();
    for (const rr of list) {
      const type = RRType[rr.type] as number;
      let l = byType.get(type);
      if (!l) byType.set(type, (l = []));
      l.push(rr);
    }
    const was = this.names.get(name);
    const answer = (type: number, rrs: ResourceRecord[]): Answer => {
      const a = was?.get(type);
      return a && sameRecords(a.rrs, rrs) ? a : prebuild(name, type, rrs);
    };
    const types = new Map<number, Answer>();
    for (const [type, rrs] of byType) types.set(type, answer(type, rrs));
    if (list.length) types.set(RRType.ANY, answer(RRType.ANY, [...types.values()].flatMap((a) => a.rrs)));
    return types;
  }

  setBindIps(ips: string[], records: Pick<ZoneRecord, 'name' | 'type' | 'data'>[]): void {
    this.bindIps = ips;
    this.prev = undefined; // every name is rebuilt (ready.spartan, ns.spartan)
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
