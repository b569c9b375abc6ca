/**
 * The zone records the local zones hold, and what changed from one set to the next, at the cost of
 * what changed: a new list is walked beside the held one (a kept record is the same object at the
 * next position: one pointer comparison), and the identity multiset, the per-zone counts and the
 * per-name bookkeeping are updated from the records added and removed only. Only new records are
 * parsed. The records are not trusted to stay as they were parsed: a kept object whose name, type
 * or data changed since (the strings compared, no hashing) counts as removed and added again, and
 * is parsed anew, so a mutated record cannot leave a stale answer once the list is set again.
 */
import type { ResourceRecord } from './wire.js';
import type { ZoneDelta } from './zone-delta.js';
import type { ZoneInput } from './workers.js';
import { apexOf, toResourceRecord } from './zone-data.js';

/** One name's records in the held list (exactly that name, not below it). */
export interface NameEntry {
  records: number;
  /** Set while the names being rebuilt collect their records (`collect`). */
  list?: ResourceRecord[];
}

/** What one record object was when parsed (its fields as given: the mutation check) and what it became. */
export interface Parsed {
  rr: ResourceRecord;
  apex: string;
  name: string;
  type: string;
  data: string;
  entry?: NameEntry;
  /** How many positions of the held list have the object this parse is held for (0: not held). */
  held: number;
}

/** From the held list to a new one: the parses in order and the changes, nothing applied yet. */
export interface RecordsDiff {
  parsed: Parsed[];
  delta: ZoneDelta;
  /** Parses of the removed entries, in `delta.removed` order; of the added ones, in `delta.added` order. */
  gone: Parsed[];
  fresh: Parsed[];
  /** Name -> records gained (+) or lost (-): every name in it is rebuilt, even at 0. */
  names: Map<string, number>;
  /** Entries of names new in this diff (added to the held ones on commit). */
  newEntries: Map<string, NameEntry>;
}

const unchanged = (p: Parsed, r: ZoneInput): boolean => p.name === r.name && p.type === r.type && p.data === r.data;

export class HeldRecords {
  private list: ZoneInput[] = [];
  private parsedList: Parsed[] = [];
  /**
   * Each held object's parse, whose `held` counts the object's positions in the list: the parse
   * cache and the multiset of held objects in one weak table (a map of 10,000 objects to their
   * counts beside a cache of their parses held 0.46 MB more at 10,000 records; issue #26). Every
   * position of an object has that one parse; an object no longer held is deleted.
   */
  private byObject = new WeakMap<object, Parsed>();
  private entries = new Map<string, NameEntry>();
  /** Records per zone (apex). */
  readonly counts = new Map<string, number>();
  private held = false;

  /**
   * The parse of `r`: the held one when its fields are those it was parsed from, else one in `fresh`
   * (the parses made for one diff: an object twice in it is parsed once), else a new one. Throws on
   * a bad record. Changes nothing held.
   */
  parse(r: ZoneInput, fresh?: Map<object, Parsed>): Parsed {
    const c = this.byObject.get(r);
    if (c && unchanged(c, r)) return c;
    const f = fresh?.get(r);
    if (f && unchanged(f, r)) return f;
    const rr = toResourceRecord(r);
    const p: Parsed = { rr, apex: apexOf(rr.name)!, name: r.name, type: r.type, data: r.data, entry: undefined, held: 0 }; // every field in the literal: held in the object, no property array (issue #26)
    fresh?.set(r, p);
    return p;
  }

  /**
   * The change from the held list to `records`, or undefined when there is none to build on (nothing
   * held yet, `forget()`) or a held record moved or repeats out of order (then rebuild from `parseAll`).
   * Throws on a bad new record; changes nothing held.
   */
  diff(records: readonly ZoneInput[]): RecordsDiff | undefined {
    if (!this.held) return undefined;
    const prev = this.list;
    const pp = this.parsedList;
    const parsed = new Array<Parsed>(records.length);
    const d: RecordsDiff = { parsed, delta: { removed: [], added: [], size: records.length }, gone: [], fresh: [], names: new Map(), newEntries: new Map() };
    const made = new Map<object, Parsed>();
    const add = (i: number, r: ZoneInput) => {
      const q = this.parse(r, made);
      parsed[i] = q;
      d.delta.added.push([i, r]);
      d.fresh.push(q);
    };
    const remove = (j: number) => {
      d.delta.removed.push(j);
      d.gone.push(pp[j]!);
    };
    let i = 0;
    let j = 0;
    while (i < records.length) {
      const r = records[i]!;
      if (j < prev.length && r === prev[j]) {
        const p = pp[j]!;
        if (unchanged(p, r)) parsed[i] = p;
        else {
          remove(j);
          add(i, r);
        }
        i++;
        j++;
      } else if (!this.byObject.has(r)) add(i++, r);
      else if (j === prev.length) return undefined;
      else remove(j++);
    }
    while (j < prev.length) remove(j++);
    const bump = (p: Parsed, by: number) => d.names.set(p.rr.name, (d.names.get(p.rr.name) ?? 0) + by);
    for (const p of d.gone) bump(p, -1);
    for (const q of d.fresh) {
      bump(q, 1);
      let e = this.entries.get(q.rr.name) ?? d.newEntries.get(q.rr.name);
      if (!e) d.newEntries.set(q.rr.name, (e = { records: 0, list: undefined }));
      q.entry = e;
    }
    return d;
  }

  /** Every record parsed (a rebuild); throws on a bad one, changing nothing held. */
  parseAll(records: readonly ZoneInput[]): Parsed[] {
    const made = new Map<object, Parsed>();
    return records.map((r) => this.parse(r, made));
  }

  /**
   * Appends to each list of `lists` the new list's records of exactly that name, in the new list's
   * order (`d.parsed`): one pass over the records, with no lookup per record (each parse points at
   * its name's entry).
   */
  collect(d: RecordsDiff, lists: Map<string, ResourceRecord[]>): void {
    const marked: NameEntry[] = [];
    for (const [name, list] of lists) {
      const e = this.entries.get(name) ?? d.newEntries.get(name);
      if (e) marked.push(Object.assign(e, { list }));
    }
    if (marked.length) for (const p of d.parsed) p.entry!.list?.push(p.rr);
    for (const e of marked) e.list = undefined;
  }

  /** Hold `records` as `d` says. */
  commit(records: readonly ZoneInput[], d: RecordsDiff): void {
    for (const [name, e] of d.newEntries) this.entries.set(name, e);
    const prev = this.list;
    // Positions removed first: an object changed in place has all its positions removed (its old
    // parse goes) before its new parse is held.
    for (const j of d.delta.removed) {
      const r = prev[j]!;
      const p = this.byObject.get(r)!;
      if (--p.held <= 0) this.byObject.delete(r);
    }
    d.delta.added.forEach(([, r], k) => this.hold(r, d.fresh[k]!));
    // Counts: the added first (a name losing one record and gaining another keeps its entry).
    for (const q of d.fresh) this.count(q, 1);
    for (const p of d.gone) this.count(p, -1);
    this.list = records.slice(); // a copy: the caller may change its array and pass it again
    this.parsedList = d.parsed;
  }

  /** Hold `records` (parsed by `parseAll`) afresh. */
  commitAll(records: readonly ZoneInput[], parsed: Parsed[]): void {
    this.byObject = new WeakMap();
    this.entries = new Map();
    this.counts.clear();
    records.forEach((r, i) => this.hold(r, parsed[i]!));
    for (const p of parsed) {
      let e = this.entries.get(p.rr.name);
      if (!e) this.entries.set(p.rr.name, (e = { records: 0, list: undefined }));
      p.entry = e;
      this.count(p, 1);
    }
    this.list = records.slice();
    this.parsedList = parsed;
    this.held = true;
  }

  /** The next set is not diffed (every name rebuilt). */
  forget(): void {
    this.held = false;
  }

  /** One more position of `r`, parsed as `p` (the same parse as its other positions). */
  private hold(r: object, p: Parsed): void {
    const have = this.byObject.get(r);
    if (have === p) p.held++;
    else {
      p.held = 1;
      this.byObject.set(r, p);
    }
  }

  private count(p: Parsed, by: number): void {
    const n = (this.counts.get(p.apex) ?? 0) + by;
    if (n > 0) this.counts.set(p.apex, n);
    else this.counts.delete(p.apex);
    const e = p.entry!;
    e.records += by;
    if (e.records <= 0 && this.entries.get(p.rr.name) === e) this.entries.delete(p.rr.name);
  }
}
