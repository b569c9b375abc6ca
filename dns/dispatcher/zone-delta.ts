/**
 * The change from one list of zone records to the next, for the worker processes: the positions
 * removed from the old list and the records added at their positions in the new one, found by
 * identity (the held view hands unchanged records over as the same objects). A worker applies it to
 * the list it holds and gets the parent's list, same records in the same order.
 */
import type { ZoneInput } from './workers.js';

export interface ZoneDelta {
  /** Indexes in the old list, ascending. */
  removed: number[];
  /** [index in the new list, record], ascending. */
  added: [number, ZoneInput][];
  /** Length of the new list. */
  size: number;
}

/** The delta from `prev` to `next`, or undefined when kept records moved or repeat (send the whole list). */
export function zoneDelta(prev: readonly ZoneInput[], next: readonly ZoneInput[]): ZoneDelta | undefined {
  const was = new Set(prev);
  const now = new Set(next);
  const delta: ZoneDelta = { removed: [], added: [], size: next.length };
  let i = 0;
  let j = 0;
  for (;;) {
    for (; i < next.length && !was.has(next[i]!); i++) delta.added.push([i, next[i]!]);
    for (; j < prev.length && !now.has(prev[j]!); j++) delta.removed.push(j);
    if (i === next.length || j === prev.length) break;
    if (next[i++] !== prev[j++]) return undefined;
  }
  return i === next.length && j === prev.length ? delta : undefined;
}

/** `prev` with the delta applied. Throws, naming the mismatch, if the delta was not made from a list of this length. */
export function applyZoneDelta(prev: readonly ZoneInput[], d: ZoneDelta): ZoneInput[] {
  const kept = prev.length - d.removed.length;
  if (kept < 0 || kept + d.added.length !== d.size || d.removed.some((x, k) => x >= prev.length || (k > 0 && x <= d.removed[k - 1]!))) {
    throw new Error(`zones delta does not fit the held list (${prev.length} records, ${d.removed.length} removed, ${d.added.length} added, ${d.size} expected)`);
  }
  const gone = new Set(d.removed);
  const out: ZoneInput[] = new Array(d.size);
  const slots = new Set<number>();
  for (const [at, r] of d.added) {
    if (at >= d.size || slots.has(at)) throw new Error(`zones delta adds at position ${at} twice or past the end (${d.size})`);
    slots.add(at);
    out[at] = r;
  }
  let k = 0;
  for (let j = 0; j < prev.length; j++) {
    if (gone.has(j)) continue;
    while (slots.has(k)) k++;
    out[k++] = prev[j]!;
  }
  return out;
}
