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
  readonly frameworks: EnumFramework[] = [];
  /** Records skipped because a name could not be encoded (label > 63, name > 253). */
  readonly skipped: string[] = [];

  map(kind: Kind): Map<string, Set<string>> {
    return kind === 'A' ? this.a : kind === 'AAAA' ? this.aaaa : this.srv;
  }

  add(kind: Kind, name: string, value: string): boolean {
    if (!value) return false;
    const m = this.map(kind);
    let s = m.get(name);
    if (!s) {
      if (!validName(name)) {
        if (this.skipped.length < 100) this.skipped.push(name);
        return false;
      }
      s = new Set();
      m.set(name, s);
    } else if (s.has(value)) return false;
    s.add(value);
    return true;
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
