/**
 * The local zones (thisdcos.directory, spartan, localhost): a name holds its records only; the
 * answer of a (name, type) is encoded on its first query, for every rotation, and kept, so a query
 * after that costs a copy and a few byte patches (issue #26: encoding every name's answers ahead
 * held about 1.4 KB per name, 15 MB at 10,000 VIP names, where an agent is asked a few of them).
 * Rotation is round-robin per (name, type). Unknown names get NXDOMAIN, known names without the type NODATA, both with the
 * zone's SOA in authority. UDP answers over the client's limit are cut at a record boundary with TC.
 * A new set of records costs what changed: it is walked beside the previous one by object identity
 * (zone-records.ts: kept records are the same objects; only new ones are parsed, and a kept one
 * whose fields changed since is parsed again), and only the names of records added or removed,
 * their parents and the built-in names (the SOA serial moves) are rebuilt; an answer already encoded
 * for a name whose records are the same as before is kept (with its rotation). Records kept in a new
 * order rebuild every name, as do new bind addresses.
 */
import { apexOf, builtinRecords } from './zone-data.js';
import type { ZoneDelta } from './zone-delta.js';
import { HeldRecords, type RecordsDiff } from './zone-records.js';
import type { ZoneInput } from './workers.js';
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

/** A name asked about: its records and the answers encoded so far. */
interface Encoded {
  src: ResourceRecord[];
  /** null: the name has no record of that type (asked before: NODATA or the CNAME fallback). */
  types: Map<number, Answer | null>;
}

/**
 * Name -> its records in order (empty: a name with records only below it), replaced by an Encoded
 * of them when first asked (one lookup per query either way).
 */
type Names = Map<string, ResourceRecord[] | Encoded>;

const recordsOf = (v: ResourceRecord[] | Encoded): ResourceRecord[] => (Array.isArray(v) ? v : v.src);

const NO_RECORDS: ResourceRecord[] = [];

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
  /**
   * Per name with records below it (the zones' apexes and the names between them and the records'
   * names): how many records (built-in or given) are strictly below it. A name exists while it has
   * records of its own or below it; its own are its list in `names`, so a name with none below it
   * (every VIP's) has no entry here (a count per name held 0.46 MB at 10,000 names; issue #26).
   */
  private below = new Map<string, number>();
  /** The records last set, diffed against the next ones (zone-records.ts). */
  private readonly held = new HeldRecords();

  constructor(private bindIps: string[] = []) {
    this.set([]);
  }

  /**
   * Replace every record (snapshot `zones` part or zone file). Throws on a bad record, changing
   * nothing. Only the names of records added or removed (by identity) since the last set are
   * rebuilt; a kept record whose name, type or data changed since counts as removed and added.
   * Returns the change from the last set's list (undefined: every name was rebuilt), which rebuilds
   * this list from that one (the workers' update, zone-delta.ts).
   */
  set(records: ZoneInput[]): ZoneDelta | undefined {
    const serial = this.serial + 1;
    const builtins = builtinRecords(this.bindIps, serial);
    const d = this.held.diff(records);
    if (d) this.update(d, builtins, () => this.held.commit(records, d));
    else {
      const parsed = this.held.parseAll(records);
      this.rebuild(builtins, parsed);
      this.held.commitAll(records, parsed);
    }
    this.serial = serial;
    this.soa = new Map(builtins.filter((r) => r.type === 'SOA').map((r) => [r.name, r]));
    return d?.delta;
  }

  /** The records a name holds (tests: an unchanged name keeps the same objects). */
  answersOf(name: string): readonly unknown[] | undefined {
    const v = this.names.get(name);
    return v && recordsOf(v);
  }

  /**
   * Rebuild only the changed names, the built-in ones (the SOA serial moves) and their parents;
   * `commit` (the held records) runs once everything is built, before anything is replaced.
   */
  private update(d: RecordsDiff, builtins: ResourceRecord[], commit: () => void): void {
    // The new counts below the parents of the names that changed.
    const below = new Map<string, number>();
    const belowOf = (n: string) => below.get(n) ?? this.below.get(n) ?? 0;
    for (const [name, by] of d.names) {
      const apex = apexOf(name)!;
      for (let n = name; n !== apex; ) {
        n = n.slice(n.indexOf('.') + 1);
        below.set(n, belowOf(n) + by);
      }
    }
    const lists = new Map<string, ResourceRecord[]>();
    for (const name of d.names.keys()) lists.set(name, []);
    for (const rr of builtins) lists.set(rr.name, []);
    for (const rr of builtins) lists.get(rr.name)!.push(rr);
    this.held.collect(d, lists);
    // Everything is built before anything is replaced: a failure changes nothing. A name whose
    // records or count below changed: its list (its records, else none: a name with records below
    // it only), or gone when it has neither.
    const built = new Map<string, ResourceRecord[] | Encoded | undefined>();
    for (const [name, list] of lists) built.set(name, list.length || belowOf(name) > 0 ? this.kept(name, list) : undefined);
    for (const [name, n] of below) {
      if (lists.has(name)) continue;
      const held = this.names.get(name);
      const own = held ? recordsOf(held).length : 0;
      if (own + n <= 0) built.set(name, undefined);
      else if (!held) built.set(name, NO_RECORDS); // a parent that gained its first record below it (an empty non-terminal)
    }
    commit();
    for (const [name, n] of below) {
      if (n > 0) this.below.set(name, n);
      else this.below.delete(name);
    }
    for (const [name, held] of built) {
      if (held) this.names.set(name, held);
      else this.names.delete(name);
    }
  }

  /** Rebuild every name (first set, new bind addresses, records reordered). */
  private rebuild(builtins: ResourceRecord[], given: ResourceRecord[]): void {
    const lists = new Map<string, ResourceRecord[]>();
    const below = new Map<string, number>();
    for (const rr of [...builtins, ...given]) {
      let list = lists.get(rr.name);
      if (!list) lists.set(rr.name, (list = []));
      list.push(rr);
      const apex = apexOf(rr.name)!;
      for (let n = rr.name; n !== apex; ) {
        n = n.slice(n.indexOf('.') + 1);
        below.set(n, (below.get(n) ?? 0) + 1);
      }
    }
    const names: Names = new Map();
    for (const [name, list] of lists) names.set(name, this.kept(name, list));
    for (const name of below.keys()) if (!names.has(name)) names.set(name, NO_RECORDS);
    this.names = names;
    this.below = below;
  }

  /**
   * The list a name holds now: the one it held when the records are the same (its answers stay as
   * encoded), else a copy of exactly its length (a list grown by push has room for 16: 176 bytes a
   * name instead of 40 for one record).
   */
  private kept(name: string, list: ResourceRecord[]): ResourceRecord[] | Encoded {
    const was = this.names.get(name);
    const had = was && recordsOf(was);
    return was && had !== NO_RECORDS && sameRecords(had!, list) ? was : list.slice();
  }

  /**
   * The answer of exactly `type` from the name's records, encoded and kept under its type: the
   * records of that type in order; ANY: every type's in order of the type's first appearance. Null: none.
   */
  private encode(e: Encoded, name: string, type: number): Answer | null {
    const have = e.types.get(type);
    if (have !== undefined) return have;
    const list = e.src;
    let rrs: ResourceRecord[];
    if (type === RRType.ANY) {
      const order: number[] = [];
      for (const rr of list) {
        const t = RRType[rr.type] as number;
        if (!order.includes(t)) order.push(t);
      }
      rrs = order.flatMap((t) => list.filter((rr) => RRType[rr.type] === t));
    } else rrs = list.filter((rr) => RRType[rr.type] === type);
    const a = rrs.length ? prebuild(name, type, rrs) : null;
    e.types.set(type, a);
    return a;
  }

  /**
   * A (name, type) not asked before: its answer, else (a type other than CNAME) the name's CNAME
   * answer, kept under the type for the next query; null: NODATA. A name with no records (only
   * names below it) is not kept.
   */
  private firstAnswer(name: string, type: number, held: ResourceRecord[] | Encoded): Answer | null {
    if (!recordsOf(held).length) return null;
    let e: Encoded;
    if (Array.isArray(held)) this.names.set(name, (e = { src: held, types: new Map() }));
    else e = held;
    const a = this.encode(e, name, type) ?? (type !== RRType.CNAME ? this.encode(e, name, RRType.CNAME) : null);
    e.types.set(type, a);
    return a;
  }

  setBindIps(ips: string[], records: ZoneInput[]): void {
    this.bindIps = ips;
    this.held.forget(); // every name is rebuilt (ready.spartan, ns.spartan)
    this.set(records);
  }

  /** Records from the snapshot/zone file per zone (for the zone_records gauge). */
  recordCounts(): ReadonlyMap<string, number> {
    return this.held.counts;
  }

  /** The answer to a query routed here. `limit` is the size the client accepts. */
  answer(raw: Buffer, q: Query, limit: number): Buffer {
    if (q.qclass !== RRClass.IN && q.qclass !== RRClass.ANY) return this.build(raw, q, Rcode.REFUSED, [], limit);
    const held = this.names.get(q.qname);
    if (!held) return this.build(raw, q, Rcode.NXDOMAIN, [], limit);
    // The usual query: a name and type asked before (one lookup more than a map of names has).
    let a = Array.isArray(held) ? undefined : held.types.get(q.qtype);
    if (a === undefined) a = this.firstAnswer(q.qname, q.qtype, held);
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
