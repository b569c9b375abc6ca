/**
 * Reads the kernel's view of the table back into the same shapes the renderer produces, so
 * reconcile can diff element by element and check the skeleton: the skeleton from the terse JSON
 * listing (`nft -j -t list table inet T`: chains, rules, sets, no elements), the elements from the
 * text listing, whose element syntax is the one the driver writes. JSON for 70,000 elements is a
 * tree of some 400,000 objects (16 MB of heap at 10,000 VIPs); the text is one string read line by line.
 */
import { emptyElements, type Elements, type Skeleton } from './ruleset.js';

type Obj = Record<string, unknown>;

/** One JSON element value to the text form used in scripts (`a . b . c`). */
function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(text).join(' . ');
  const o = v as Obj;
  if ('concat' in o) return text(o.concat);
  if ('elem' in o) return text((o.elem as Obj).val);
  if ('goto' in o) return `goto ${(o.goto as Obj).target}`;
  if ('jump' in o) return `jump ${(o.jump as Obj).target}`;
  if ('prefix' in o) return `${(o.prefix as Obj).addr}/${(o.prefix as Obj).len}`;
  return JSON.stringify(v);
}

export interface KernelTable {
  skeleton: Skeleton;
  elements: Elements;
}

/**
 * `only`: the listing is a whole ruleset (`nft -j -t list ruleset`); keep the objects of that
 * table, undefined when it is not there.
 */
export function parseTable(json: string): KernelTable;
export function parseTable(json: string, only: { family: string; table: string }): KernelTable | undefined;
export function parseTable(json: string, only?: { family: string; table: string }): KernelTable | undefined {
  const doc = JSON.parse(json) as { nftables?: Obj[] };
  const chains: string[] = [];
  const rules: string[] = [];
  const sets: string[] = [];
  const elements = emptyElements();
  let found = !only;
  for (const item of doc.nftables ?? []) {
    const [kind, body] = Object.entries(item)[0] as [string, Obj];
    if (only) {
      if (body.family !== only.family) continue;
      if (kind === 'table') {
        if (body.name === only.table) found = true;
        continue;
      }
      if (body.table !== only.table) continue;
    }
    if (kind === 'chain') chains.push(body.hook ? `${body.name}/${body.type}/${body.hook}/${body.prio}` : String(body.name));
    else if (kind === 'rule') rules.push(`${body.chain}/${body.comment ?? '?'}`);
    else if (kind === 'set' || kind === 'map') {
      const name = String(body.name);
      sets.push(name);
      const els = new Map<string, string>();
      for (const e of (body.elem as unknown[]) ?? []) {
        if (kind === 'map' && Array.isArray(e)) els.set(text(e[0]), text(e[1]));
        else els.set(text(e), '');
      }
      elements.set(name, els);
    }
  }
  if (!found) return undefined;
  return { skeleton: { chains: chains.sort(), rules: rules.sort(), sets: sets.sort() }, elements };
}

export function sameSkeleton(a: Skeleton, b: Skeleton): boolean {
  const eq = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.chains, b.chains) && eq(a.rules, b.rules) && eq(a.sets, b.sets);
}

/**
 * Elements of every set and map in a text listing (`nft list table inet T`): `elements = { ... }`
 * blocks, one element per comma, maps as `key : value`, of the maps and sets `emptyElements` names. `mark` values print in hex and are turned
 * back into the decimal the driver writes.
 */
export function parseElementsText(text: string): Elements {
  const elements = emptyElements();
  let name: string | undefined;
  let isMap = false;
  let els: Map<string, string> | undefined;
  let from = 0;
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    let line = text.slice(from, to).trim();
    from = to + 1;
    const head = /^(map|set) (\S+) \{$/.exec(line);
    if (head) {
      isMap = head[1] === 'map';
      // Only the maps and sets elements are diffed in (not the constant `picks`).
      name = elements.has(head[2]!) ? head[2]! : undefined;
      continue;
    }
    if (!els) {
      if (!name || !line.startsWith('elements = { ')) continue;
      els = new Map();
      elements.set(name, els);
      line = line.slice('elements = { '.length);
    }
    const last = line.endsWith(' }') || line === '}';
    if (last) line = line.slice(0, -1).trimEnd();
    for (const item of line.split(',')) {
      const e = item.trim();
      if (!e) continue;
      if (!isMap) {
        els.set(e, '');
        continue;
      }
      const i = e.indexOf(' : ');
      const v = e.slice(i + 3);
      els.set(e.slice(0, i), /^0x[0-9a-f]+$/.test(v) ? String(parseInt(v, 16)) : v);
    }
    if (last) {
      els = undefined;
      name = undefined;
    }
  }
  return elements;
}
