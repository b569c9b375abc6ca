/**
 * Reads the kernel's view of the table back (`nft -j list table inet T`) into the same shapes the
 * renderer produces, so reconcile can diff element by element and check the skeleton.
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

export function parseTable(json: string): KernelTable {
  const doc = JSON.parse(json) as { nftables?: Obj[] };
  const chains: string[] = [];
  const rules: string[] = [];
  const sets: string[] = [];
  const elements = emptyElements();
  for (const item of doc.nftables ?? []) {
    const [kind, body] = Object.entries(item)[0] as [string, Obj];
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
  return { skeleton: { chains: chains.sort(), rules: rules.sort(), sets: sets.sort() }, elements };
}

export function sameSkeleton(a: Skeleton, b: Skeleton): boolean {
  const eq = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.chains, b.chains) && eq(a.rules, b.rules) && eq(a.sets, b.sets);
}
