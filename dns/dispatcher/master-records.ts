/**
 * The snapshot's zone records and the masters' own (`master.dcos.thisdcos.directory` for every
 * master, `leader.dcos.thisdcos.directory` for the leader), without duplicates: the first record of
 * each name (any case), type and data is kept. `MasterRecords` does it at the cost of what changed
 * since its last merge: the zones list is walked beside the last one (a kept record is the same
 * object at the next position, with the fields it had), the count of each key follows the records
 * added and removed, and while no key of the zones repeats, the merge is the zones list and the
 * masters' records it does not have, with no lookup per record. A record changed in place since the
 * last merge counts as removed and added. While the keys are in strictly increasing order (the
 * control plane's `zones` part is sorted by key and has each once) no key repeats and nothing is
 * kept per key or per object: the lists are walked in key order and a master's key is found by
 * binary search; the tables are built when the order breaks (a zone file, a name not in lowercase)
 * and kept until a merge from scratch.
 */
import { lowerBound } from '../../common/sorted.js';
import type { MasterEntry } from '../../contracts/index.js';
import type { ZoneInput } from './workers.js';

/**
 * `name/type/data` (name lowercased). A snapshot record's own `key` is that text when its name is
 * lowercase (the control plane's are): that string is kept instead of an equal one per record
 * (10,000 at 10,000 VIP names, held as long as the records are; issue #26).
 */
function keyOf(r: ZoneInput): string {
  const k = `${r.name.toLowerCase()}/${r.type}/${r.data}`;
  const own = (r as { key?: unknown }).key;
  return own === k ? own : k;
}

/** The masters' records. */
function masterRecords(masters: readonly MasterEntry[]): ZoneInput[] {
  const out: ZoneInput[] = [];
  for (const m of masters) {
    const type = m.ip.includes(':') ? 'AAAA' : 'A';
    out.push({ name: 'master.dcos.thisdcos.directory', type, data: m.ip });
    if (m.leader) out.push({ name: 'leader.dcos.thisdcos.directory', type, data: m.ip });
  }
  return out;
}

/** The first record of each key, in order. */
function dedup(records: readonly ZoneInput[]): ZoneInput[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const k = keyOf(r);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** `zones` and the masters' records, without duplicates (a pass over every record; `MasterRecords` follows changes). */
export function withMasterRecords(zones: readonly ZoneInput[], masters: readonly MasterEntry[]): ZoneInput[] {
  return dedup([...zones, ...masterRecords(masters)]);
}

/** Keys that may repeat (the zones' keys were not in strictly increasing order): a count per key and per object. */
interface Loose {
  /** How many of the zones have each key; `repeats`: how many keys more than one has. */
  counts: Map<string, number>;
  repeats: number;
  /** Each held object and how many times the zones have it (a weak table: a held object is alive anyway). */
  multiplicity: WeakMap<object, number>;
}

export class MasterRecords {
  /** The zones of the last merge, and each one's name, type and data (3 per record) and key as they were. */
  private zones: readonly ZoneInput[] = [];
  private fields: string[] = [];
  private keys: string[] = [];
  /**
   * Undefined while the keys strictly increase (the control plane's zones, sorted by key): then
   * every key is there once, a new list is walked beside the last one by key (a record not at the
   * next position has its key made and compared) and a master's key is found by binary search, with
   * no table per key or per object (two tables of 10,000 entries less, 0.7 MB; issue #26). Set when
   * the order breaks (a zone file, a name not in lowercase), until a merge from scratch.
   */
  private loose: Loose | undefined;
  private masters?: readonly MasterEntry[];
  private extra: [string, ZoneInput][] = [];

  merge(zones: readonly ZoneInput[], masters: readonly MasterEntry[]): ZoneInput[] {
    if (masters !== this.masters) [this.masters, this.extra] = [masters, masterRecords(masters).map((r) => [keyOf(r), r])];
    const d = this.loose ? this.diffLoose(zones, this.loose) : this.diffSorted(zones);
    if (d) this.follow(zones, d.removed, d.added);
    else this.reset(zones);
    if (this.loose && this.loose.repeats > 0) return dedup([...zones, ...this.extra.map(([, r]) => r)]);
    // The zones are unique: each master record goes after them unless its key is there already.
    const add: ZoneInput[] = [];
    const seen = new Set<string>();
    for (const [k, r] of this.extra) {
      if (this.hasKey(k) || seen.has(k)) continue;
      seen.add(k);
      add.push(r);
    }
    return zones.concat(add); // exactly as long as it is (a copy grown by push has room for half as many more)
  }

  /** A kept record whose fields are not those it had (changed in place). */
  private changed(r: ZoneInput, j: number): boolean {
    const f = this.fields;
    return r.name !== f[3 * j] || r.type !== f[3 * j + 1] || r.data !== f[3 * j + 2];
  }

  /**
   * With the last zones' keys strictly increasing: old positions removed and new positions added,
   * walking both lists in key order, or undefined when the new keys do not strictly increase.
   */
  private diffSorted(zones: readonly ZoneInput[]): { removed: number[]; added: number[] } | undefined {
    const prev = this.zones;
    const pk = this.keys;
    const removed: number[] = [];
    const added: number[] = [];
    let last: string | undefined;
    let i = 0;
    let j = 0;
    while (i < zones.length) {
      const r = zones[i]!;
      let k: string;
      if (j < prev.length && r === prev[j]) {
        if (this.changed(r, j)) {
          removed.push(j);
          added.push(i);
          k = keyOf(r);
        } else k = pk[j]!;
        i++;
        j++;
      } else {
        k = keyOf(r);
        // Old records with a smaller key are gone (the new keys increase: none comes later), up to
        // this very object (kept: the next turn takes it); one with the same key is replaced by it.
        while (j < prev.length && prev[j] !== r && pk[j]! <= k) removed.push(j++);
        if (prev[j] === r) continue;
        added.push(i++);
      }
      if (last !== undefined && !(last < k)) return undefined;
      last = k;
    }
    while (j < prev.length) removed.push(j++);
    return { removed, added };
  }

  /** Keys may repeat: old positions removed and new positions added, or undefined when a kept record moved. */
  private diffLoose(zones: readonly ZoneInput[], loose: Loose): { removed: number[]; added: number[] } | undefined {
    const prev = this.zones;
    const removed: number[] = [];
    const added: number[] = [];
    let i = 0;
    let j = 0;
    while (i < zones.length) {
      const r = zones[i]!;
      if (j < prev.length && r === prev[j]) {
        if (this.changed(r, j)) {
          removed.push(j);
          added.push(i);
        }
        i++;
        j++;
      } else if (!loose.multiplicity.has(r)) added.push(i++);
      else if (j === prev.length) return undefined;
      else removed.push(j++);
    }
    while (j < prev.length) removed.push(j++);
    return { removed, added };
  }

  private follow(zones: readonly ZoneInput[], removed: number[], added: number[]): void {
    const prev = this.zones;
    const loose = this.loose;
    if (loose) {
      for (const j of removed) {
        this.count(loose, this.keys[j]!, -1);
        const m = loose.multiplicity.get(prev[j]!)! - 1;
        if (m > 0) loose.multiplicity.set(prev[j]!, m);
        else loose.multiplicity.delete(prev[j]!);
      }
    }
    const keys = new Array<string>(zones.length);
    const fields = new Array<string>(3 * zones.length);
    // Kept records are the old positions not removed, in order, at the new positions not added.
    let a = 0;
    let rm = 0;
    let p = 0;
    for (let k = 0; k < zones.length; k++) {
      if (a < added.length && added[a] === k) {
        const r = zones[k]!;
        keys[k] = keyOf(r);
        fields[3 * k] = r.name;
        fields[3 * k + 1] = r.type;
        fields[3 * k + 2] = r.data;
        if (loose) {
          this.count(loose, keys[k], 1);
          loose.multiplicity.set(r, (loose.multiplicity.get(r) ?? 0) + 1);
        }
        a++;
        continue;
      }
      while (rm < removed.length && removed[rm] === p) {
        rm++;
        p++;
      }
      keys[k] = this.keys[p]!;
      fields[3 * k] = this.fields[3 * p]!;
      fields[3 * k + 1] = this.fields[3 * p + 1]!;
      fields[3 * k + 2] = this.fields[3 * p + 2]!;
      p++;
    }
    this.hold(zones, keys, fields);
  }

  private reset(zones: readonly ZoneInput[]): void {
    const keys = zones.map(keyOf);
    const fields = zones.flatMap((r) => [r.name, r.type, r.data]);
    this.loose = undefined;
    if (!keys.every((k, i) => i === 0 || keys[i - 1]! < k)) {
      const loose: Loose = { counts: new Map(), repeats: 0, multiplicity: new WeakMap() };
      for (const key of keys) this.count(loose, key, 1);
      for (const r of zones) loose.multiplicity.set(r, (loose.multiplicity.get(r) ?? 0) + 1);
      this.loose = loose;
    }
    this.hold(zones, keys, fields);
  }

  private hold(zones: readonly ZoneInput[], keys: string[], fields: string[]): void {
    this.zones = zones.slice(); // a copy: the caller may change its array and pass it again
    this.keys = keys;
    this.fields = fields;
  }

  /** Whether a zone has the key `k`. */
  private hasKey(k: string): boolean {
    if (this.loose) return this.loose.counts.has(k);
    const keys = this.keys;
    return keys[lowerBound(keys.length, (i) => keys[i]!, k)] === k;
  }

  private count(loose: Loose, k: string, by: number): void {
    const n = (loose.counts.get(k) ?? 0) + by;
    if (by > 0 && n === 2) loose.repeats++;
    if (by < 0 && n === 1) loose.repeats--;
    if (n > 0) loose.counts.set(k, n);
    else loose.counts.delete(k);
  }
}
