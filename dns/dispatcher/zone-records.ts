/**
 * The zone records the local zones hold, and what changed from one set to the next, at the cost of
 * what changed: a new list is walked beside the held one (a kept record is the same object at the
 * next position: one pointer comparison), and the identity multiset and the per-zone counts are
 * updated from the records added and removed only. Only new records are
 * parsed. The records are not trusted to stay as they were parsed: a kept object whose name, type
 * or data changed since (the strings compared, no hashing) counts as removed and added again, and
 * is parsed anew, so a mutated record cannot leave a stale answer once the list is set again.
 */
import type { ResourceRecord } from './wire.js';
import type { ZoneDelta } from './zone-delta.js';
import type { ZoneInput } from './workers.js';
import { apexOf, toResourceRecord } from './zone-data.js';

/** From the held list to a new one: the parses in order and the changes, nothing applied yet. */
export interface RecordsDiff {
  parsed: ResourceRecord[];
  delta: ZoneDelta;
  /** Parses of the removed entries, in `delta.removed` order; of the added ones, in `delta.added` order. */
  gone: ResourceRecord[];
  fresh: ResourceRecord[];
  /** Name -> records gained (+) or lost (-): every name in it is rebuilt, even at 0. */
  names: Map<string, number>;
}

/** The fields a record was parsed from. */
type Source = Pick<ZoneInput, 'name' | 'type' | 'data'>;

/** `rr` spells the fields of `r` (an A or AAAA record whose name is lowercase, as the control plane's are). */
function spells(rr: ResourceRecord, r: Source): boolean {
  return (rr.type === 'A' || rr.type === 'AAAA') && rr.name === r.name && rr.type === r.type && rr.address === r.data;
}

/**
 * A record's parse is its resource record, nothing beside it (issue #26: an object per record with
 * the parse, the fields parsed from and a count, 0.8 MB at 10,000 records, then 0.5). What a record
 * is checked against when set again (was it changed in place?) is its parse itself when the parse
 * spells its fields, else the fields it was parsed from, kept in a weak table by parse for those few.
 */
export class HeldRecords {
  private list: ZoneInput[] = [];
  private parsedList: ResourceRecord[] = [];
  /**
   * Each held object's parse: the parse cache and the set of held objects in one weak table (every
   * position of an object has that one parse; an object no longer held is deleted); `repeated`: the
   * number of positions of the objects the list has more than once (none from the control plane).
   */
  private byObject = new WeakMap<object, ResourceRecord>();
  private repeated = new Map<object, number>();
  /** The fields parsed from, of the parses that do not spell them (`spells`). */
  private readonly sources = new WeakMap<ResourceRecord, Source>();
  /** Records per zone (apex). */
  readonly counts = new Map<string, number>();
  private held = false;

  /** `r` still has the fields `rr` was parsed from. */
  private unchanged(rr: ResourceRecord, r: ZoneInput): boolean {
    if (spells(rr, r)) return true;
    const s = this.sources.get(rr);
    return s !== undefined && s.name === r.name && s.type === r.type && s.data === r.data;
  }

  /**
   * The parse of `r`: the held one when its fields are those it was parsed from, else one in `fresh`
   * (the parses made for one diff: an object twice in it is parsed once), else a new one. Throws on
   * a bad record. Changes nothing held.
   */
  parse(r: ZoneInput, fresh?: Map<object, ResourceRecord>): ResourceRecord {
    const c = this.byObject.get(r);
    if (c && this.unchanged(c, r)) return c;
    const f = fresh?.get(r);
    if (f && this.unchanged(f, r)) return f;
    const rr = toResourceRecord(r);
    if (!spells(rr, r)) this.sources.set(rr, { name: r.name, type: r.type, data: r.data });
    fresh?.set(r, rr);
    return rr;
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
    const parsed = new Array<ResourceRecord>(records.length);
    const d: RecordsDiff = { parsed, delta: { removed: [], added: [], size: records.length }, gone: [], fresh: [], names: new Map() };
    const made = new Map<object, ResourceRecord>();
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
        if (this.unchanged(p, r)) parsed[i] = p;
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
    const bump = (rr: ResourceRecord, by: number) => d.names.set(rr.name, (d.names.get(rr.name) ?? 0) + by);
    for (const p of d.gone) bump(p, -1);
    for (const q of d.fresh) bump(q, 1);
    return d;
  }

  /** Every record parsed (a rebuild); throws on a bad one, changing nothing held. */
  parseAll(records: readonly ZoneInput[]): ResourceRecord[] {
    const made = new Map<object, ResourceRecord>();
    return records.map((r) => this.parse(r, made));
  }

  /**
   * Appends to each list of `lists` the new list's records of exactly that name, in the new list's
   * order (`d.parsed`): one pass over the records with a lookup of each name among the few being
   * rebuilt (about 0.1 ms at 10,000 records; a per-name entry linked from each parse saved it and
   * held 0.9 MB more: a map of every name and an object per name; issue #26).
   */
  collect(d: RecordsDiff, lists: Map<string, ResourceRecord[]>): void {
    if (!lists.size) return;
    for (const rr of d.parsed) lists.get(rr.name)?.push(rr);
  }

  /** Hold `records` as `d` says. */
  commit(records: readonly ZoneInput[], d: RecordsDiff): void {
    const prev = this.list;
    // Positions removed first: an object changed in place has all its positions removed (its old
    // parse goes) before its new parse is held.
    for (const j of d.delta.removed) this.release(prev[j]!);
    d.delta.added.forEach(([, r], k) => this.hold(r, d.fresh[k]!));
    for (const q of d.fresh) this.count(q, 1);
    for (const p of d.gone) this.count(p, -1);
    this.list = records.slice(); // a copy: the caller may change its array and pass it again
    this.parsedList = d.parsed;
  }

  /** Hold `records` (parsed by `parseAll`) afresh. */
  commitAll(records: readonly ZoneInput[], parsed: ResourceRecord[]): void {
    this.byObject = new WeakMap();
    this.repeated = new Map();
    this.counts.clear();
    records.forEach((r, i) => this.hold(r, parsed[i]!));
    for (const p of parsed) this.count(p, 1);
    this.list = records.slice();
    this.parsedList = parsed;
    this.held = true;
  }

  /** The next set is not diffed (every name rebuilt). */
  forget(): void {
    this.held = false;
  }

  /** One more position of `r`, parsed as `rr` (the same parse as its other positions). */
  private hold(r: object, rr: ResourceRecord): void {
    if (this.byObject.get(r) === rr) this.repeated.set(r, (this.repeated.get(r) ?? 1) + 1);
    else {
      this.byObject.set(r, rr);
      this.repeated.delete(r);
    }
  }

  /** One position of `r` less. */
  private release(r: object): void {
    const n = this.repeated.get(r);
    if (n === undefined) this.byObject.delete(r);
    else if (n > 2) this.repeated.set(r, n - 1);
    else this.repeated.delete(r);
  }

  private count(rr: ResourceRecord, by: number): void {
    const apex = apexOf(rr.name)!;
    const n = (this.counts.get(apex) ?? 0) + by;
    if (n > 0) this.counts.set(apex, n);
    else this.counts.delete(apex);
  }
}
