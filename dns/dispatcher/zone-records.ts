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

/**
 * What one record object was parsed into. `src`: the fields it was parsed from (the mutation check)
 * when the parse does not spell them itself; an A or AAAA record whose name is already lowercase
 * (the control plane's are) has them in `rr` (name, type, address), so no copy of them is held
 * (three pointers and an object field less per record; issue #26).
 */
export interface Parsed {
  rr: ResourceRecord;
  src: { name: string; type: string; data: string } | undefined;
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
}

function unchanged(p: Parsed, r: ZoneInput): boolean {
  const s = p.src;
  if (s) return s.name === r.name && s.type === r.type && s.data === r.data;
  const rr = p.rr as { name: string; type: string; address: string };
  return rr.name === r.name && rr.type === r.type && rr.address === r.data;
}

/** The fields `r` was parsed from, unless `rr` spells them (see Parsed). */
function sourceOf(r: ZoneInput, rr: ResourceRecord): Parsed['src'] {
  if ((rr.type === 'A' || rr.type === 'AAAA') && rr.name === r.name && rr.type === r.type && rr.address === r.data) return undefined;
  return { name: r.name, type: r.type, data: r.data };
}

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
    const p: Parsed = { rr, src: sourceOf(r, rr), held: 0 }; // every field in the literal: held in the object, no property array (issue #26)
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
    const d: RecordsDiff = { parsed, delta: { removed: [], added: [], size: records.length }, gone: [], fresh: [], names: new Map() };
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
    for (const q of d.fresh) bump(q, 1);
    return d;
  }

  /** Every record parsed (a rebuild); throws on a bad one, changing nothing held. */
  parseAll(records: readonly ZoneInput[]): Parsed[] {
    const made = new Map<object, Parsed>();
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
    for (const p of d.parsed) lists.get(p.rr.name)?.push(p.rr);
  }

  /** Hold `records` as `d` says. */
  commit(records: readonly ZoneInput[], d: RecordsDiff): void {
    const prev = this.list;
    // Positions removed first: an object changed in place has all its positions removed (its old
    // parse goes) before its new parse is held.
    for (const j of d.delta.removed) {
      const r = prev[j]!;
      const p = this.byObject.get(r)!;
      if (--p.held <= 0) this.byObject.delete(r);
    }
    d.delta.added.forEach(([, r], k) => this.hold(r, d.fresh[k]!));
    for (const q of d.fresh) this.count(q, 1);
    for (const p of d.gone) this.count(p, -1);
    this.list = records.slice(); // a copy: the caller may change its array and pass it again
    this.parsedList = d.parsed;
  }

  /** Hold `records` (parsed by `parseAll`) afresh. */
  commitAll(records: readonly ZoneInput[], parsed: Parsed[]): void {
    this.byObject = new WeakMap();
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
    const apex = apexOf(p.rr.name)!;
    const n = (this.counts.get(apex) ?? 0) + by;
    if (n > 0) this.counts.set(apex, n);
    else this.counts.delete(apex);
  }
}
