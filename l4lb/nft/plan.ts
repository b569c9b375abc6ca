/**
 * What one apply writes: the service-level diff between what the driver last wrote and `desired`,
 * rendered into element changes for the services that differ only.
 */
import type { ApplyResult, Backend, Service } from '../driver.js';
import { normalizeOne, sameBackends } from '../services.js';
import { ElementDelta } from './ruleset.js';
import type { SvcData } from './names.js';
import { diffServiceBytes } from './bytes-diff.js';

export interface Plan {
  delta: ElementDelta;
  result: ApplyResult;
  /** Key -> the new service, or undefined when it is removed. */
  changes: Map<string, Service | undefined>;
  /** The services written after this plan, sorted by key (when the plan could tell). */
  next?: Service[];
}

export function emptyPlan(svcData: SvcData = 'verdict'): Plan {
  return { delta: new ElementDelta(svcData), result: { added: 0, removed: 0, changed: 0 }, changes: new Map() };
}

export function planAdd(p: Plan, s: Service, maxSlots: number): void {
  // A new service owns only new keys: no element-level diff needed (the from-empty case).
  p.changes.set(s.key, s);
  p.result.added++;
  p.delta.addService(s, maxSlots);
}

export function planChange(p: Plan, old: Service, s: Service, maxSlots: number): void {
  p.changes.set(s.key, s);
  p.result.changed++;
  diffServiceBytes(p.delta, old, s, maxSlots);
}

export function planRemove(p: Plan, old: Service, maxSlots: number): void {
  p.changes.set(old.key, undefined);
  p.result.removed++;
  p.delta.removeService(old, maxSlots);
}

/**
 * The common case in one merge walk: `desired` sorted by key (the reconciler passes canonical,
 * sorted services) against `have`, what was written, sorted the same way. An entry that is the
 * very object written last time (the reconciler reuses the Service of an unchanged VIP) costs one
 * pointer comparison; an equal one at the same place a few field comparisons; neither builds a key
 * string or looks anything up, so one change among 10,000 services plans in tens of microseconds.
 * `next` is built only from the first difference on (before it, it is `have`'s prefix). Undefined
 * when `desired` turns out unsorted or has a duplicate key: the caller then plans by key.
 */
export function planSorted(have: Service[], desired: Service[], maxSlots: number, svcData: SvcData = 'verdict'): Plan | undefined {
  const p = emptyPlan(svcData);
  // Undefined while every entry so far is have[i] at i (next would be have's prefix).
  let next: Service[] | undefined;
  const diverge = (upTo: number) => (next ??= have.slice(0, upTo));
  let j = 0;
  let last = '';
  for (let i = 0; i < desired.length; i++) {
    const raw = desired[i]!;
    const h = have[j];
    // Keys in `have` ascend and every slow step below leaves `j` past `last`: no key compare needed.
    if (h === raw) {
      next?.push(h);
      last = h.key;
      j++;
      continue;
    }
    if (h && raw.vip === h.vip && raw.port === h.port && raw.protocol === h.protocol && equalBackends(h.backends, raw.backends)) {
      // Equal: keep the caller's object when its key is spelled the same (it is then canonical too),
      // so the next apply finds it by identity (after a reconcile, which stores its own copies).
      diverge(j).push(raw.key === h.key ? raw : h);
      last = h.key;
      j++;
      continue;
    }
    const s = isCanonical(raw) ? raw : normalizeOne(raw);
    if (s.key <= last) return undefined;
    const out = diverge(j);
    while (j < have.length && have[j]!.key < s.key) planRemove(p, have[j++]!, maxSlots);
    const old = have[j];
    if (old && old.key === s.key) {
      j++;
      if (sameBackends(old.backends, s.backends)) {
        out.push(old);
        last = s.key;
        continue;
      }
      planChange(p, old, s, maxSlots);
    } else planAdd(p, s, maxSlots);
    out.push(s);
    last = s.key;
  }
  if (j < have.length) diverge(j);
  while (j < have.length) planRemove(p, have[j++]!, maxSlots);
  p.next = next ?? have;
  return p;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * `s` is what normalizeOne would return (IPv4 addresses, key spelled from its fields, backends
 * sorted), checked without building anything: programming from empty then copies no service.
 */
export function isCanonical(s: Service): boolean {
  const k = s.key;
  const p = s.protocol.length;
  const v = s.vip.length;
  if (!V4.test(s.vip) || !k.startsWith(s.protocol) || k.charCodeAt(p) !== 47 || !k.startsWith(s.vip, p + 1) || k.charCodeAt(p + 1 + v) !== 58) return false;
  let port = 0;
  const from = p + v + 2;
  if (k.length === from || k.length - from > 5 || (k.charCodeAt(from) === 48 && k.length > from + 1)) return false;
  for (let i = from; i < k.length; i++) {
    const c = k.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return false;
    port = port * 10 + c;
  }
  if (port !== s.port) return false;
  const bs = s.backends;
  for (let i = 0; i < bs.length; i++) {
    const b = bs[i]!;
    if (!V4.test(b.ip)) return false;
    if (i > 0) {
      const a = bs[i - 1]!;
      if (a.ip > b.ip || (a.ip === b.ip && a.port > b.port)) return false;
    }
  }
  return true;
}

/** `sameBackends` as a plain loop: the walk calls it once per service. */
function equalBackends(a: Backend[], b: Backend[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.ip !== y.ip || x.port !== y.port || x.weight !== y.weight) return false;
  }
  return true;
}

/** `normalize`, keeping the services that are canonical already (the next apply then finds them by identity). */
export function canonicalServices(desired: Service[]): Service[] {
  const out = desired.map((s) => (isCanonical(s) ? s : normalizeOne(s)));
  for (let i = 1; i < out.length; i++) if (out[i - 1]!.key > out[i]!.key) return out.sort(byKey);
  return out;
}

const byKey = (a: Service, b: Service) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Services sorted by key. */
export function sortedServices(m: Map<string, Service>): Service[] {
  return [...m.values()].sort(byKey);
}
