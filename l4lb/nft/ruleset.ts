/**
 * The nftables ruleset, built from data. Design for scale: no chain per service. One verdict map
 * keyed by `VIP . proto . port` sends a new connection to `pick<n>` (n = slot count of that
 * service), whose single rule DNATs through one slot map keyed by `VIP . proto . port . numgen`.
 * A change touches only that service's elements, so its cost does not grow with the table.
 * DNAT runs at `dstnat - 10`, before CNI port-mapping rules, so they can never capture VIP traffic.
 */
import type { Service } from '../driver.js';
import { layoutsFor } from './encode.js';
import { elementText, valueText } from './decode.js';
import { FAMILIES, PICK_MAP, REJECT_CHAIN, SERVICES_CHAIN, backendMap, hairpinSet, modChain, slotMap, svcMap, type Family, type SvcData } from './names.js';

/** Per map/set name: element key -> value ('' for sets). */
export type Elements = Map<string, Map<string, string>>;

export const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);
const ipKw = (f: Family) => (f === 4 ? 'ip' : 'ip6');

/** Expected chains (name + hook info) and rule comments: what reconcile checks the kernel against. */
export interface Skeleton {
  chains: string[];
  rules: string[];
  sets: string[];
}

/** `svcData` 'count': the slot-count encoding (its `picks` map; the same chains and rule comments). */
export function skeleton(maxSlots: number, svcData: SvcData = 'verdict'): Skeleton {
  const chains = [REJECT_CHAIN, SERVICES_CHAIN, 'prerouting/nat/prerouting/-110', 'output/nat/output/-110', 'postrouting/nat/postrouting/90'];
  const rules = [`${REJECT_CHAIN}/reject`, ...FAMILIES.map((f) => `${SERVICES_CHAIN}/vmap${f}`), 'prerouting/services', 'output/services', ...FAMILIES.map((f) => `postrouting/hairpin${f}`)];
  for (let n = 1; n <= maxSlots; n++) {
    chains.push(modChain(n));
    for (const f of FAMILIES) rules.push(`${modChain(n)}/dnat${f}`);
  }
  const sets = FAMILIES.flatMap((f) => [svcMap(f), slotMap(f), backendMap(f), hairpinSet(f)]);
  if (svcData === 'count') sets.push(PICK_MAP);
  return { chains: chains.sort(), rules: rules.sort(), sets: sets.sort() };
}

/**
 * The table with its chains, maps and sets, and no elements. With `svcData` 'count' the service
 * maps hold slot counts, `picks` is filled (constant), and the `services` chain is left empty:
 * its rules cannot be written in nft's text (rules.ts writes them over netlink).
 */
export function renderSkeleton(table: string, maxSlots: number, svcData: SvcData = 'verdict'): string {
  const L: string[] = [`table inet ${table} {`];
  for (const f of FAMILIES) {
    const a = f === 4 ? 'ipv4_addr' : 'ipv6_addr';
    L.push(`  map ${svcMap(f)} { type ${a} . inet_proto . inet_service : ${svcData === 'count' ? 'mark' : 'verdict'}; }`);
    L.push(`  map ${slotMap(f)} { typeof ${ipKw(f)} daddr . meta l4proto . th dport . numgen random mod 1 : ${ipKw(f)} daddr . th dport; }`);
    L.push(`  map ${backendMap(f)} { type ${a} . inet_proto . inet_service . ${a} . inet_service : mark; }`);
    L.push(`  set ${hairpinSet(f)} { type ${a} . ${a}; }`);
  }
  if (svcData === 'count') {
    const picks = [`0 : goto ${REJECT_CHAIN}`];
    for (let n = 1; n <= maxSlots; n++) picks.push(`${n} : goto ${modChain(n)}`);
    L.push(`  map ${PICK_MAP} { type mark : verdict; elements = { ${picks.join(', ')} } }`);
  }
  L.push(`  chain ${REJECT_CHAIN} {`, `    reject comment "reject"`, '  }');
  for (let n = 1; n <= maxSlots; n++) {
    L.push(`  chain ${modChain(n)} {`);
    for (const f of FAMILIES) {
      const k = ipKw(f);
      L.push(`    meta nfproto ipv${f} dnat ${k} to ${k} daddr . meta l4proto . th dport . numgen random mod ${n} map @${slotMap(f)} comment "dnat${f}"`);
    }
    L.push('  }');
  }
  L.push(`  chain ${SERVICES_CHAIN} {`);
  if (svcData === 'verdict') for (const f of FAMILIES) L.push(`    ${ipKw(f)} daddr . meta l4proto . th dport vmap @${svcMap(f)} comment "vmap${f}"`);
  L.push('  }');
  L.push('  chain prerouting {', '    type nat hook prerouting priority dstnat - 10; policy accept;', `    jump ${SERVICES_CHAIN} comment "services"`, '  }');
  L.push('  chain output {', '    type nat hook output priority -110; policy accept;', `    jump ${SERVICES_CHAIN} comment "services"`, '  }');
  L.push('  chain postrouting {', '    type nat hook postrouting priority srcnat - 10; policy accept;');
  for (const f of FAMILIES) L.push(`    ct status dnat ${ipKw(f)} saddr . ${ipKw(f)} daddr @${hairpinSet(f)} masquerade comment "hairpin${f}"`);
  L.push('  }', '}');
  return L.join('\n') + '\n';
}

export function emptyElements(): Elements {
  const e: Elements = new Map();
  for (const f of FAMILIES) for (const n of [svcMap(f), slotMap(f), backendMap(f), hairpinSet(f)]) e.set(n, new Map());
  return e;
}

/**
 * Slot counts per backend: weight w -> w slots; scaled down when the sum exceeds maxSlots (every
 * backend with weight > 0 keeps at least one slot while there is room).
 */
export function slotsFor(weights: number[], maxSlots: number): number[] {
  const sum = weights.reduce((a, b) => a + Math.max(0, b), 0);
  if (sum <= maxSlots) return weights.map((w) => Math.max(0, w));
  let left = maxSlots;
  return weights.map((w) => {
    if (w <= 0 || left <= 0) return 0;
    const n = Math.min(left, Math.max(1, Math.floor((w * maxSlots) / sum)));
    left -= n;
    return n;
  });
}

/** One element of a map or set: [set name, key, value ('' for sets)]. */
export type Element = [string, string, string];

/** The elements one service owns (hairpin entries, shared between services, come separately). */
export function serviceElements(s: Service, maxSlots: number, svcData: SvcData = 'verdict'): Element[] {
  const out: Element[] = [];
  eachServiceElement(s, maxSlots, (set, k, v) => out.push([set, k, v]), svcData);
  return out;
}

/** `serviceElements` without the arrays: `emit(set, key, value)` per element. */
export function eachServiceElement(s: Service, maxSlots: number, emit: (set: string, key: string, value: string) => void, svcData: SvcData = 'verdict'): void {
  const f = familyOf(s.vip);
  const svcKey = `${s.vip} . ${s.protocol} . ${s.port}`;
  const counts = slotsFor(
    s.backends.map((b) => (familyOf(b.ip) === f ? b.weight : 0)),
    maxSlots,
  );
  // Weights live in the slot map (a backend's weight = its slot count); only draining backends,
  // and every backend of a service whose weights had to be scaled, need a `backends` entry.
  const scaled = s.backends.some((b, i) => familyOf(b.ip) === f && b.weight > 0 && counts[i] !== b.weight);
  const slots = slotMap(f);
  let slot = 0;
  s.backends.forEach((b, i) => {
    if (familyOf(b.ip) !== f) return;
    if (scaled || b.weight <= 0) emit(backendMap(f), `${svcKey} . ${b.ip} . ${b.port}`, String(Math.max(0, b.weight)));
    const backend = `${b.ip} . ${b.port}`;
    for (let k = 0; k < counts[i]!; k++) emit(slots, `${svcKey} . ${slot++}`, backend);
  });
  emit(svcMap(f), svcKey, svcData === 'count' ? String(slot) : slot > 0 ? `goto ${modChain(slot)}` : `goto ${REJECT_CHAIN}`);
}

/** Hairpin entries of a service: each backend talking to itself. */
export function hairpinElements(s: Service): Element[] {
  const f = familyOf(s.vip);
  return s.backends.filter((b) => familyOf(b.ip) === f).map((b) => [hairpinSet(f), `${b.ip} . ${b.ip}`, '']);
}

/** The elements that program `services` (already normalized). */
export function renderElements(services: Iterable<Service>, maxSlots: number, svcData: SvcData = 'verdict'): Elements {
  const e = emptyElements();
  for (const s of services) {
    eachServiceElement(s, maxSlots, (set, k, v) => e.get(set)!.set(k, v), svcData);
    const f = familyOf(s.vip);
    const hairpin = e.get(hairpinSet(f))!;
    for (const b of s.backends) if (familyOf(b.ip) === f) hairpin.set(`${b.ip} . ${b.ip}`, '');
  }
  return e;
}

/** How many elements `eachServiceElement` gives for `s` (without building them). */
export function serviceElementCount(s: Service, maxSlots: number): number {
  const f = familyOf(s.vip);
  // The common case without arrays: every weight fits (no scaling), draining backends add one each.
  let sum = 0;
  let n = 1;
  for (const b of s.backends) {
    if (familyOf(b.ip) !== f) continue;
    if (b.weight > 0) sum += b.weight;
    else n++;
  }
  if (sum <= maxSlots) return n + sum;
  const counts = slotsFor(
    s.backends.map((b) => (familyOf(b.ip) === f ? b.weight : 0)),
    maxSlots,
  );
  const scaled = s.backends.some((b, i) => familyOf(b.ip) === f && b.weight > 0 && counts[i] !== b.weight);
  n = 1;
  s.backends.forEach((b, i) => {
    if (familyOf(b.ip) !== f) return;
    if (scaled || b.weight <= 0) n++;
    n += counts[i]!;
  });
  return n;
}

/**
 * Element changes collected for one transaction (deletes run before adds): single elements as
 * text, and whole services and hairpin addresses, which the netlink writer encodes straight to
 * bytes (l4lb/nft/encode.ts) and the text writers expand to element text.
 */
export class ElementDelta {
  /** `svcData`: what the service maps hold (the encoding of the table this delta is for). */
  constructor(readonly svcData: SvcData = 'verdict') {}
  private readonly del = new Map<string, string[]>();
  /** Per set: keys and their values ('' for sets), side by side. */
  private readonly add = new Map<string, [string[], string[]]>();
  /** Whole services whose every element is added or deleted, and hairpin entries by backend address. */
  readonly bulk = {
    add: [] as Service[],
    del: [] as Service[],
    addHairpin: [] as string[],
    delHairpin: [] as string[],
    maxSlots: 64,
    /** Elements as bytes (a byte diff's changes): set and key bytes (latin1) to delete, set and LIST_ELEM payload to add. */
    rawDel: [] as [string, string][],
    rawAdd: [] as [string, Buffer][],
  };
  ops = 0;
  remove(set: string, key: string): void {
    push(this.del, set, key);
    this.ops++;
  }
  insert(set: string, key: string, value: string): void {
    let kv = this.add.get(set);
    if (!kv) this.add.set(set, (kv = [[], []]));
    kv[0].push(key);
    kv[1].push(value);
    this.ops++;
  }
  /** Every element of `s` added. */
  addService(s: Service, maxSlots: number): void {
    this.bulk.add.push(s);
    this.bulk.maxSlots = maxSlots;
    this.ops += serviceElementCount(s, maxSlots);
  }
  /** Every element of `s` deleted. */
  removeService(s: Service, maxSlots: number): void {
    this.bulk.del.push(s);
    this.bulk.maxSlots = maxSlots;
    this.ops += serviceElementCount(s, maxSlots);
  }
  /** The hairpin entry of backend address `ip` added or deleted. */
  hairpin(ip: string, add: boolean): void {
    (add ? this.bulk.addHairpin : this.bulk.delHairpin).push(ip);
    this.ops++;
  }
  /** A delete of the element with key bytes `key` (latin1). */
  rawRemove(set: string, key: string): void {
    this.bulk.rawDel.push([set, key]);
    this.ops++;
  }
  /** An add of the element whose LIST_ELEM payload is `payload`. */
  rawInsert(set: string, payload: Buffer): void {
    this.bulk.rawAdd.push([set, payload]);
    this.ops++;
  }
  /** The bulk parts as element text (the text writers' form). */
  private expand(): void {
    const b = this.bulk;
    for (const [set, key] of b.rawDel) push(this.del, set, rawKeyText(set, key));
    for (const [set, payload] of b.rawAdd) {
      const layout = layoutsFor(this.svcData).get(set);
      if (!layout) throw new Error(`no layout for set ${set}`);
      const [k, v] = elementText(payload, layout);
      let kv = this.add.get(set);
      if (!kv) this.add.set(set, (kv = [[], []]));
      kv[0].push(k);
      kv[1].push(v);
    }
    b.rawDel = [];
    b.rawAdd = [];
    if (!b.add.length && !b.del.length && !b.addHairpin.length && !b.delHairpin.length) return;
    for (const s of b.del) eachServiceElement(s, b.maxSlots, (set, k) => push(this.del, set, k), this.svcData);
    for (const ip of b.delHairpin) push(this.del, hairpinSet(familyOf(ip)), `${ip} . ${ip}`);
    const ins = (set: string, k: string, v: string) => {
      let kv = this.add.get(set);
      if (!kv) this.add.set(set, (kv = [[], []]));
      kv[0].push(k);
      kv[1].push(v);
    };
    for (const s of b.add) eachServiceElement(s, b.maxSlots, ins, this.svcData);
    for (const ip of b.addHairpin) ins(hairpinSet(familyOf(ip)), `${ip} . ${ip}`, '');
    b.add = [];
    b.del = [];
    b.addHairpin = [];
    b.delHairpin = [];
  }
  /** The `delete element` then `add element` commands, one per set (and chunk). */
  commands(table: string): string[] {
    this.expand();
    const lines: string[] = [];
    for (const [set, items] of this.del) lines.push(...elementLines('delete', table, set, items));
    for (const [set, [keys, values]] of this.add) lines.push(...elementLines('add', table, set, keys.map((k, i) => (values[i] === '' ? k : `${k} : ${values[i]}`))));
    return lines;
  }
  /** Per set its deletes (keys), then per set its adds (keys and values), as `commands` orders them (the bulk parts included, as text). */
  each(emit: (verb: 'add' | 'delete', set: string, keys: string[], values?: string[]) => void): void {
    this.expand();
    this.eachText(emit);
  }
  /** `each` without the bulk parts. */
  eachText(emit: (verb: 'add' | 'delete', set: string, keys: string[], values?: string[]) => void): void {
    for (const [set, keys] of this.del) emit('delete', set, keys);
    for (const [set, [keys, values]] of this.add) emit('add', set, keys, values);
  }
  script(table: string): string {
    const lines = this.commands(table);
    return lines.length ? lines.join('\n') + '\n' : '';
  }
}

function rawKeyText(set: string, key: string): string {
  // Keys are the same in both encodings.
  const layout = layoutsFor('verdict').get(set);
  if (!layout) throw new Error(`no layout for set ${set}`);
  return valueText(layout.key, Buffer.from(key, 'latin1'));
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

const CHUNK = 4000;

function elementLines(verb: 'add' | 'delete', table: string, set: string, items: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(`${verb} element inet ${table} ${set} { ${items.slice(i, i + CHUNK).join(', ')} }`);
  return out;
}

/** A transaction turning `have` into `want`; `ops` counts the elements touched. */
export function diffScript(table: string, have: Elements, want: Elements): { script: string; ops: number } {
  const del: string[] = [];
  const add: string[] = [];
  let ops = 0;
  for (const [set, wantEls] of want) {
    const haveEls = have.get(set) ?? new Map<string, string>();
    const d: string[] = [];
    const a: string[] = [];
    for (const [k, v] of haveEls) {
      const w = wantEls.get(k);
      if (w === undefined || w !== v) d.push(k);
    }
    for (const [k, v] of wantEls) {
      const h = haveEls.get(k);
      if (h === undefined || h !== v) a.push(v === '' ? k : `${k} : ${v}`);
    }
    ops += d.length + a.length;
    del.push(...elementLines('delete', table, set, d));
    add.push(...elementLines('add', table, set, a));
  }
  // Deletes first: a changed map value is a delete and an add of the same key in one transaction.
  return { script: [...del, ...add].join('\n') + (del.length + add.length ? '\n' : ''), ops };
}

/** `diffScript` as an ElementDelta (for the netlink writer). */
export function diffDelta(have: Elements, want: Elements, svcData: SvcData = 'verdict'): ElementDelta {
  const delta = new ElementDelta(svcData);
  for (const [set, wantEls] of want) {
    const haveEls = have.get(set) ?? new Map<string, string>();
    for (const [k, v] of haveEls) if (wantEls.get(k) !== v) delta.remove(set, k);
    for (const [k, v] of wantEls) if (haveEls.get(k) !== v) delta.insert(set, k, v);
  }
  return delta;
}

/**
 * Replace the whole table atomically: create-if-missing, delete, recreate, fill. With `svcData`
 * 'count' the `services` rules are not in it (the caller writes them over netlink, rules.ts).
 */
export function fullScript(table: string, maxSlots: number, want: Elements, svcData: SvcData = 'verdict'): { script: string; ops: number } {
  const { script, ops } = diffScript(table, emptyElements(), want);
  return { script: `table inet ${table}\ndelete table inet ${table}\n${renderSkeleton(table, maxSlots, svcData)}${script}`, ops: ops + skeleton(maxSlots, svcData).rules.length };
}
