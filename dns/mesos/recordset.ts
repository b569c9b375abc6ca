/**
 * The generated records: names (lower-case, no trailing dot) to sets of values, in insertion
 * order; SRV values are `target:port`. Adding an existing value is a no-op (duplicates merged).
 */
export type Kind = 'A' | 'AAAA' | 'SRV';

export interface EnumRecord {
  name: string;
  host: string;
  rtype: Kind;
}
export interface EnumTask {
  name: string;
  id: string;
  records: EnumRecord[];
}
export interface EnumFramework {
  name: string;
  tasks: EnumTask[];
}

export class RecordSet {
  readonly a = new Map<string, Set<string>>();
  readonly aaaa = new Map<string, Set<string>>();
  readonly srv = new Map<string, Set<string>>();
  /** Records skipped because a name could not be encoded (label > 63, name > 253). */
  readonly skipped: string[] = [];
  // Enumeration, kept flat while generating (a few arrays instead of an object per record) and
  // expanded on first read of `frameworks` (the /v1/enumerate API is rare, regeneration is not).
  private readonly fws: { name: string; taskStart: number }[] = [];
  /** Per task: name, id. */
  private readonly taskText: string[] = [];
  /** Per task: index of its first record triple in `recs`. */
  private readonly taskRecStart: number[] = [];
  /** Triples kind, name, value of every task record that was new when added. */
  private readonly recs: string[] = [];
  private enumerated?: EnumFramework[];

  map(kind: Kind): Map<string, Set<string>> {
    return kind === 'A' ? this.a : kind === 'AAAA' ? this.aaaa : this.srv;
  }

  add(kind: Kind, name: string, value: string): boolean {
    if (!value) return false;
    const m = kind === 'A' ? this.a : kind === 'AAAA' ? this.aaaa : this.srv;
    let s = m.get(name);
    if (!s) {
      if (!validName(name)) {
        if (this.skipped.length < 100) this.skipped.push(name);
        return false;
      }
      m.set(name, (s = new Set()));
      s.add(value);
      return true;
    }
    const n = s.size;
    return s.add(value).size !== n;
  }

  /** Start the enumeration entry of a framework; tasks and their records follow. */
  beginFramework(name: string): void {
    this.fws.push({ name, taskStart: this.taskRecStart.length });
    this.enumerated = undefined;
  }

  /** Start the enumeration entry of a task (inside the last framework begun). */
  beginTask(name: string, id: string): void {
    this.taskText.push(name, id);
    this.taskRecStart.push(this.recs.length);
  }

  /** add() that also lists the record under the last task begun when it was new. */
  addTask(kind: Kind, name: string, value: string): boolean {
    if (!this.add(kind, name, value)) return false;
    this.recs.push(kind, name, value);
    return true;
  }

  /** Frameworks, their tasks and each task's records, as /v1/enumerate shows them. */
  get frameworks(): EnumFramework[] {
    if (this.enumerated) return this.enumerated;
    const out: EnumFramework[] = [];
    const nTasks = this.taskRecStart.length;
    this.fws.forEach((f, fi) => {
      const end = fi + 1 < this.fws.length ? this.fws[fi + 1]!.taskStart : nTasks;
      const tasks: EnumTask[] = [];
      for (let ti = f.taskStart; ti < end; ti++) {
        const recEnd = ti + 1 < nTasks ? this.taskRecStart[ti + 1]! : this.recs.length;
        const records: EnumRecord[] = [];
        for (let r = this.taskRecStart[ti]!; r < recEnd; r += 3) {
          const rtype = this.recs[r] as Kind;
          const value = this.recs[r + 2]!;
          records.push({ name: this.recs[r + 1]! + '.', host: rtype === 'SRV' ? srvHostDot(value) : value, rtype });
        }
        tasks.push({ name: this.taskText[2 * ti]!, id: this.taskText[2 * ti + 1]!, records });
      }
      out.push({ name: f.name, tasks });
    });
    return (this.enumerated = out);
  }

  /** True when any record of any kind exists for the name. */
  has(name: string): boolean {
    return this.a.has(name) || this.aaaa.has(name) || this.srv.has(name);
  }

  first(kind: 'A' | 'AAAA', name: string): string | undefined {
    const s = this.map(kind).get(name);
    if (!s) return undefined;
    for (const v of s) return v;
    return undefined;
  }

  size(): number {
    let n = 0;
    for (const m of [this.a, this.aaaa, this.srv]) for (const s of m.values()) n += s.size;
    return n;
  }
}

/** SRV value `target:port` as the API shows it: `target.:port`. */
function srvHostDot(v: string): string {
  const i = v.lastIndexOf(':');
  return `${v.slice(0, i)}.:${v.slice(i + 1)}`;
}

/** Encodable on the wire: labels 1..63 bytes, whole name at most 253 characters. */
export function validName(name: string): boolean {
  if (name.length > 253) return false;
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    if (i === name.length || name.charCodeAt(i) === 46) {
      const l = i - start;
      if (l === 0 || l > 63) return false;
      start = i + 1;
    }
  }
  return true;
}

/** `target:port` -> parts (target has no colon: it is a DNS name). */
export function splitSrv(v: string): { target: string; port: number } {
  const i = v.lastIndexOf(':');
  return { target: v.slice(0, i), port: Number(v.slice(i + 1)) };
}
