/**
 * Pure keyed-list arithmetic shared by master and agent. A part is held as key -> canonical JSON,
 * so "changed" is a string comparison and an entry is encoded once, whatever the number of agents.
 */
import type { PartName } from '../contracts/index.js';
import type { Interner } from './intern.js';

/** key -> canonical JSON of the entry. */
export type PartState = Map<string, string>;
/** key -> new canonical JSON (null when removed); `created`: the key did not exist before. */
export interface Change {
  v: string | null;
  created: boolean;
}
export type PartChanges = Map<string, Change>;
export type Changes = Partial<Record<PartName, PartChanges>>;

/** JSON with object keys sorted, so equal entries always encode to equal text. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export interface DiffResult {
  next: PartState;
  changes: PartChanges;
  /** Keys that appeared more than once in the input (the last one wins). */
  duplicates: string[];
  /** Indexes of entries without a string `key` (dropped). */
  invalid: number[];
}

/** Diff the current state of a part against a fresh list of entries. */
export function diffPart(prev: PartState, entries: readonly unknown[]): DiffResult {
  const next: PartState = new Map();
  const changes: PartChanges = new Map();
  const duplicates: string[] = [];
  const invalid: number[] = [];
  entries.forEach((e, i) => {
    const key = (e as { key?: unknown } | null)?.key;
    if (typeof key !== 'string' || !key) {
      invalid.push(i);
      return;
    }
    if (next.has(key)) duplicates.push(key);
    next.set(key, canonicalJson(e));
  });
  for (const [k, json] of next) {
    const old = prev.get(k);
    if (old !== json) changes.set(k, { v: json, created: old === undefined });
  }
  for (const k of prev.keys()) if (!next.has(k)) changes.set(k, { v: null, created: false });
  return { next, changes, duplicates, invalid };
}

/** Fold `later` into `into`: the later value wins, "did it exist at the start" stays the first one's. */
export function mergeChanges(into: PartChanges, later: PartChanges): void {
  for (const [k, c] of later) {
    const first = into.get(k);
    into.set(k, first ? { v: c.v, created: first.created } : c);
  }
}

/** Split changes into wire form: upserted JSON texts and removed keys. */
export function splitChanges(c: PartChanges): { upserts: string[]; removes: string[] } {
  const upserts: string[] = [];
  const removes: string[] = [];
  for (const [k, { v, created }] of c) {
    if (v !== null) upserts.push(v);
    else if (!created) removes.push(k); // created and removed within the span: the agent never had it
  }
  return { upserts, removes };
}

/**
 * Agent side: parse wire upserts into entries. Throws naming the first bad entry, before anything
 * is changed, so a bad update leaves the view as it was. With `interner`, repeated values (agent ids,
 * addresses, task ids, DNS names) become one string each (intern.ts).
 */
export function parseUpserts(part: string, upserts: readonly string[], interner?: Interner): { key: string; entry: unknown }[] {
  return upserts.map((text, i) => {
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch (e) {
      throw new Error(`${part} upsert #${i}: not JSON: ${(e as Error).message}`);
    }
    const key = (entry as { key?: unknown } | null)?.key;
    if (typeof key !== 'string' || !key) throw new Error(`${part} upsert #${i}: entry has no string key`);
    interner?.entry(part, entry);
    return { key, entry };
  });
}
