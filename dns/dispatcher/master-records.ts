/**
 * The snapshot's zone records and the masters' own (`master.dcos.thisdcos.directory` for every
 * master, `leader.dcos.thisdcos.directory` for the leader), without duplicates: the first record of
 * each name (any case), type and data is kept. `MasterRecords` does it at the cost of what changed
 * since its last merge: the zones list is walked beside the last one (a kept record is the same
 * object at the next position, with the fields it had), the count of each key follows the records
 * added and removed, and while no key of the zones repeats, the merge is the zones list and the
 * masters' records it does not have, with no lookup per record. A record changed in place since the
 * last merge counts as removed and added. While the keys are in strictly increasing order (the
 * control plane's `zones` part is sorted by key and has each once) no key repeats and no count per
 * key is kept: a master's key is found by binary search, and only the keys beside a record added
 * are compared; the counts are built the first time the order breaks (a zone file, a name not in
 * lowercase) and kept until a merge from scratch.
 */
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

export class MasterRecords {
  /** The zones of the last merge, and each one's name, type and data (3 per record) and key as they were. */
  private zones: readonly ZoneInput[] = [];
  private fields: string[] = [];
  private keys: string[] = [];
  /**
   * Each held object and how many times the zones have it: a weak table (an object that is held is
   * alive anyway, and one no longer held is deleted), half the size of a Map of the same 10,000
   * objects (issue #26).
   */
  private multiplicity = new WeakMap<object, number>();
  /**
   * How many of the zones have each key, or undefined while `keys` strictly increase (then every
   * key is there once: a map of 10,000 keys less, 0.46 MB; issue #26); `repeats`: how many keys
   * more than one has.
   */
  private counts: Map<string, number> | undefined;
  private repeats = 0;
  private masters?: readonly MasterEntry[];
  private extra: [string, ZoneInput][] = [];

  merge(zones: readonly ZoneInput[], masters: readonly MasterEntry[]): ZoneInput[] {
    if (masters !== this.masters) [this.masters, this.extra] = [masters, masterRecords(masters).map((r) => [keyOf(r), r])];
    const d = this.diff(zones);
    if (d) this.follow(zones, d.removed, d.added);
    else this.reset(zones);
    if (this.repeats > 0) return dedup([...zones, ...this.extra.map(([, r]) => r)]);
    // The zones are unique: each master record goes after them unless its key is there already.
    const out = zones.slice();
    const seen = new Set<string>();
    for (const [k, r] of this.extra) {
      if (this.hasKey(k) || seen.has(k)) continue;
      seen.add(k);
      out.push(r);
    }
    return out;
  }

  /** Old positions removed and new positions added, or undefined when a kept record moved. */
  private diff(zones: readonly ZoneInput[]): { removed: number[]; added: number[] } | undefined {
    const prev = this.zones;
    const f = this.fields;
    const removed: number[] = [];
    const added: number[] = [];
    let i = 0;
    let j = 0;
    while (i < zones.length) {
      const r = zones[i]!;
      if (j < prev.length && r === prev[j]) {
        if (r.name !== f[3 * j] || r.type !== f[3 * j + 1] || r.data !== f[3 * j + 2]) {
          removed.push(j);
          added.push(i);
        }
        i++;
        j++;
      } else if (!this.multiplicity.has(r)) added.push(i++);
      else if (j === prev.length) return undefined;
      else removed.push(j++);
    }
    while (j < prev.length) removed.push(j++);
    return { removed, added };
  }

  private follow(zones: readonly ZoneInput[], removed: number[], added: number[]): void {
    const prev = this.zones;
    for (const j of removed) {
      if (this.counts) this.count(this.keys[j]!, -1);
      const m = this.multiplicity.get(prev[j]!)! - 1;
      if (m > 0) this.multiplicity.set(prev[j]!, m);
      else this.multiplicity.delete(prev[j]!);
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
        if (this.counts) this.count(keys[k], 1);
        this.multiplicity.set(r, (this.multiplicity.get(r) ?? 0) + 1);
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
    // Kept keys were in order and stay so without the removed ones: only an added key's neighbours can break it.
    if (!this.counts && added.some((k) => (k > 0 && keys[k - 1]! >= keys[k]!) || (k + 1 < keys.length && keys[k]! >= keys[k + 1]!))) this.countAll(keys);
    this.hold(zones, keys, fields);
  }

  private reset(zones: readonly ZoneInput[]): void {
    this.counts = undefined;
    this.multiplicity = new WeakMap();
    this.repeats = 0;
    const keys = zones.map(keyOf);
    const fields = zones.flatMap((r) => [r.name, r.type, r.data]);
    for (let k = 1; k < keys.length; k++) {
      if (keys[k - 1]! < keys[k]!) continue;
      this.countAll(keys);
      break;
    }
    for (const r of zones) this.multiplicity.set(r, (this.multiplicity.get(r) ?? 0) + 1);
    this.hold(zones, keys, fields);
  }

  private hold(zones: readonly ZoneInput[], keys: string[], fields: string[]): void {
    this.zones = zones.slice(); // a copy: the caller may change its array and pass it again
    this.keys = keys;
    this.fields = fields;
  }

  /** The count of every key of `keys` (the order broke: keys may repeat from now on). */
  private countAll(keys: readonly string[]): void {
    this.counts = new Map();
    this.repeats = 0;
    for (const k of keys) this.count(k, 1);
  }

  /** Whether a zone has the key `k`. */
  private hasKey(k: string): boolean {
    if (this.counts) return this.counts.has(k);
    const keys = this.keys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    return keys[lo] === k;
  }

  private count(k: string, by: number): void {
    const counts = this.counts!;
    const n = (counts.get(k) ?? 0) + by;
    if (by > 0 && n === 2) this.repeats++;
    if (by < 0 && n === 1) this.repeats--;
    if (n > 0) counts.set(k, n);
    else counts.delete(k);
  }
}
