/**
 * Reconcile without element text: the desired services encoded to element bytes (encode.ts)
 * against the kernel's dump in the same compact form (key bytes -> data bytes per set), so a
 * reconcile of 10,000 VIPs builds no element strings of either side's text form.
 */
import type { ApplyResult, Service } from '../driver.js';
import { CollectSink, eachAttr, elementBytesAt, encodeHairpin, encodeService } from './encode.js';
import { FAMILIES, backendMap, hairpinSet, slotMap, svcMap } from './names.js';
import { ElementDelta } from './ruleset.js';

/** Per set: key bytes -> data bytes (latin1 strings), as NftNetlink.readElementBytes gives them. */
export type ElementBytes = Map<string, Map<string, string>>;

/** What the services own in each family: the sets whose keys start with `vip . proto . port`. */
const SERVICE_SETS = new Map<string, number>(FAMILIES.flatMap((f) => [svcMap(f), slotMap(f), backendMap(f)].map((s) => [s, f === 4 ? 12 : 24] as [string, number])));

/**
 * The element changes turning `have` (consumed: matched entries are removed) into `want`, and
 * the services added, removed and changed (a service changed when any element keyed by its
 * `vip . proto . port` differs).
 */
export function diffBytes(have: ElementBytes, want: Service[], maxSlots: number): { delta: ElementDelta; result: ApplyResult } {
  const sink = new CollectSink();
  const hairpins = new Set<string>();
  for (const s of want) {
    encodeService(sink, s, maxSlots, true);
    const v6 = s.vip.includes(':');
    for (const b of s.backends) if (b.ip.includes(':') === v6) hairpins.add(b.ip);
  }
  for (const ip of hairpins) encodeHairpin(sink, ip);
  hairpins.clear();

  const delta = new ElementDelta();
  const result: ApplyResult = { added: 0, removed: 0, changed: 0 };
  const added = new Set<string>();
  const touched = new Set<string>();
  const wanted = new Set<string>();
  for (const f of FAMILIES) {
    for (const set of [svcMap(f), slotMap(f), backendMap(f), hairpinSet(f)]) {
      const kernel = have.get(set) ?? new Map<string, string>();
      const prefix = SERVICE_SETS.get(set);
      const w = sink.sets.get(set);
      if (w) {
        const buf = w.buf;
        eachAttr(buf, 0, w.len, (_type, start, end) => {
          const [k, d] = elementBytesAt(buf, start, end)!;
          if (set === svcMap(f)) wanted.add(k);
          const h = kernel.get(k);
          if (h === d) {
            kernel.delete(k);
            return;
          }
          if (h !== undefined) {
            delta.rawRemove(set, k);
            kernel.delete(k);
          } else if (set === svcMap(f)) added.add(k);
          delta.rawInsert(set, buf.subarray(start, end));
          if (prefix) touched.add(k.slice(0, prefix));
        });
      }
      // What is left in the kernel is not wanted.
      for (const k of kernel.keys()) {
        delta.rawRemove(set, k);
        if (set === svcMap(f)) result.removed++;
        else if (prefix) touched.add(k.slice(0, prefix));
      }
      kernel.clear();
    }
  }
  result.added = added.size;
  for (const p of touched) if (wanted.has(p) && !added.has(p)) result.changed++;
  return { delta, result };
}
