/**
 * Reconcile without element text: the desired services encoded to element bytes (encode.ts)
 * against the kernel's dump, both held as byte ranges (element-index.ts), so a reconcile of
 * 10,000 VIPs builds no string or object per element; only the elements that differ are copied
 * into the delta.
 */
import type { ApplyResult, Service } from '../driver.js';
import { CollectSink, encodeHairpin, encodeService } from './encode.js';
import { eachAttr } from './decode.js';
import { ElementIndex, elementRanges, indexPacked, sameData } from './element-index.js';
import { FAMILIES, backendMap, hairpinSet, slotMap, svcMap, type SvcData } from './names.js';
import { ElementDelta } from './ruleset.js';

/**
 * Per set, the kernel's elements (NftNetlink.readElementIndex), or a reader called once per set as
 * the diff reaches it (NftNetlink.readSetIndex: one set's dump held at a time); undefined: none.
 */
export type ElementBytes = Map<string, ElementIndex> | ((set: string) => ElementIndex | undefined);

/** The sets whose keys start with a service's `vip . proto . port` (12 bytes for IPv4, 24 for IPv6). */
const SERVICE_SETS = new Map<string, number>(FAMILIES.flatMap((f) => [svcMap(f), slotMap(f), backendMap(f)].map((s) => [s, f === 4 ? 12 : 24] as [string, number])));

const r = new Int32Array(6);

/**
 * The element changes turning `have` into `want`, and the services added, removed and changed
 * (a service changed when any element keyed by its `vip . proto . port` differs).
 */
export function diffBytes(have: ElementBytes, want: Service[], maxSlots: number, svcData: SvcData = 'verdict'): { delta: ElementDelta; result: ApplyResult } {
  const sink = new CollectSink();
  const hairpins = new Set<string>();
  for (const s of want) {
    encodeService(sink, s, maxSlots, true, svcData);
    const v6 = s.vip.includes(':');
    for (const b of s.backends) if (b.ip.includes(':') === v6) hairpins.add(b.ip);
  }
  for (const ip of hairpins) encodeHairpin(sink, ip);
  hairpins.clear();

  const delta = new ElementDelta(svcData);
  const result: ApplyResult = { added: 0, removed: 0, changed: 0 };
  /** Service prefixes (latin1) whose verdict-map entry is new, and of services with any element changed. */
  const added = new Set<string>();
  const touched = new Set<string>();
  for (const f of FAMILIES) {
    const svc = svcMap(f);
    for (const set of [svc, slotMap(f), backendMap(f), hairpinSet(f)]) {
      const kernel = typeof have === 'function' ? have(set) : have.get(set);
      const prefix = SERVICE_SETS.get(set);
      const w = sink.sets.get(set);
      if (w) {
        const buf = w.buf;
        eachAttr(buf, 0, w.len, (_t, s, e) => {
          if (!elementRanges(buf, s, e, r, 0)) return;
          const i = kernel ? kernel.find(buf, r[0]!, r[1]!) : -1;
          if (i >= 0) {
            kernel!.taken[i] = 1;
            if (sameData(buf, r[2]!, r[3]!, kernel!.buffer(i), kernel!.dataStart(i), kernel!.dataEnd(i))) return;
            delta.rawRemove(set, buf.toString('latin1', r[0]!, r[1]!));
          } else if (set === svc) added.add(buf.toString('latin1', r[0]!, r[1]!));
          delta.rawInsert(set, buf.subarray(s, e));
          if (prefix) touched.add(buf.toString('latin1', r[0]!, r[0]! + prefix));
        });
      }
      // What the kernel has and nothing wanted is deleted.
      if (!kernel) continue;
      for (let i = 0; i < kernel.size; i++) {
        if (kernel.taken[i]) continue;
        const b = kernel.buffer(i);
        delta.rawRemove(set, b.toString('latin1', kernel.keyStart(i), kernel.keyEnd(i)));
        if (set === svc) result.removed++;
        else if (prefix) touched.add(b.toString('latin1', kernel.keyStart(i), kernel.keyStart(i) + prefix));
      }
    }
  }
  result.added = added.size;
  if (touched.size) {
    // Changed: touched, not new, and still wanted.
    const wanted = FAMILIES.map((f) => sink.sets.get(svcMap(f))).map((w) => (w ? indexPacked(w.buf, w.len) : undefined));
    for (const p of touched) {
      if (added.has(p)) continue;
      const key = Buffer.from(p, 'latin1');
      if (wanted.some((ix) => ix && ix.find(key, 0, key.length) >= 0)) result.changed++;
    }
  }
  return { delta, result };
}

/**
 * One service's element changes from `old` to `s` (same key), on their bytes: both encoded as
 * from empty (the encoder programming from empty uses, warm), elements compared by key and data,
 * only those that differ written. No element text, no string per element but the keys deleted.
 */
export function diffServiceBytes(delta: ElementDelta, old: Service, s: Service, maxSlots: number): void {
  const before = new CollectSink(0);
  encodeService(before, old, maxSlots, true, delta.svcData);
  const after = new CollectSink(0);
  encodeService(after, s, maxSlots, true, delta.svcData);
  const had = new Map<string, ElementIndex>();
  for (const [set, w] of before.sets) had.set(set, indexPacked(w.buf, w.len));
  for (const [set, w] of after.sets) {
    const have = had.get(set);
    const buf = w.buf;
    eachAttr(buf, 0, w.len, (_t, st, e) => {
      if (!elementRanges(buf, st, e, r, 0)) return;
      const i = have ? have.find(buf, r[0]!, r[1]!) : -1;
      if (i >= 0) {
        have!.taken[i] = 1;
        if (sameData(buf, r[2]!, r[3]!, have!.buffer(i), have!.dataStart(i), have!.dataEnd(i))) return;
        delta.rawRemove(set, buf.toString('latin1', r[0]!, r[1]!));
      }
      delta.rawInsert(set, buf.subarray(st, e));
    });
  }
  // What the old service had and the new one has not.
  for (const [set, have] of had) for (let i = 0; i < have.size; i++) if (!have.taken[i]) delta.rawRemove(set, have.buffer(i).toString('latin1', have.keyStart(i), have.keyEnd(i)));
}
