/**
 * The `ip`/`bridge` batch lines that diff.ts plans, parsed back into typed operations (pure), so a
 * driver that does not run iproute2 (the rtnetlink one) applies exactly the same plan. The grammar
 * is the closed set diff.ts writes; anything else is an error naming the line.
 */
import { KernelError } from './errors.js';

export type Op =
  | { obj: 'link'; verb: 'add' | 'del' | 'set'; name: string; kind?: 'vxlan' | 'bridge'; vni?: number; port?: number; mac?: string; mtu?: number; up?: boolean }
  | { obj: 'addr'; verb: 'replace' | 'del'; cidr: string; dev: string; nodad?: boolean }
  | { obj: 'neigh'; verb: 'replace' | 'del'; ip: string; dev: string; mac?: string }
  | { obj: 'route'; verb: 'replace' | 'del'; dst: string; dev?: string; via?: string; table: number }
  | { obj: 'rule'; verb: 'add' | 'del'; src: string; table: number; pref: number }
  | { obj: 'fdb'; verb: 'replace' | 'del'; mac: string; dev: string; dst: string };

const FLAGS = new Set(['nolearning', 'noudpcsum', 'up', 'onlink', 'self', 'permanent', 'nodad']);
const VERBS: Record<string, string[]> = { link: ['add', 'del', 'set'], addr: ['replace', 'del'], neigh: ['replace', 'del'], route: ['replace', 'del'], rule: ['add', 'del'], fdb: ['replace', 'del'] };

/** Keyword/value pairs after `obj verb [positional]`; flags stand alone. */
function keywords(line: string, toks: string[]): Map<string, string> {
  const kv = new Map<string, string>();
  for (let i = 0; i < toks.length; i++) {
    const k = toks[i]!;
    if (FLAGS.has(k)) kv.set(k, '');
    else if (i + 1 < toks.length) kv.set(k, toks[++i]!);
    else throw new KernelError('parse', `no value after "${k}" in "${line}"`);
  }
  return kv;
}

function need(kv: Map<string, string>, key: string, line: string): string {
  const v = kv.get(key);
  if (v === undefined) throw new KernelError('parse', `"${key}" missing in "${line}"`);
  return v;
}

function num(v: string | undefined, line: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new KernelError('parse', `bad number "${v}" in "${line}"`);
  return n;
}

export function parseLine(line: string, table = 254): Op {
  const toks = line.trim().split(/\s+/);
  const [obj, verb] = toks;
  if (!obj || !verb || !VERBS[obj]?.includes(verb)) throw new KernelError('parse', `unsupported line "${line}"`);
  const v = verb as never;
  if (obj === 'rule') {
    const kv = keywords(line, toks.slice(2));
    return { obj, verb: v, src: need(kv, 'from', line), table: num(need(kv, 'lookup', line), line)!, pref: num(need(kv, 'pref', line), line)! };
  }
  const pos = toks[2];
  if (pos === undefined) throw new KernelError('parse', `no object named in "${line}"`);
  const kv = keywords(line, toks.slice(3));
  switch (obj) {
    case 'link': {
      const kind = kv.get('type');
      if (kind !== undefined && kind !== 'vxlan' && kind !== 'bridge') throw new KernelError('parse', `unsupported link type in "${line}"`);
      return { obj, verb: v, name: pos, kind, vni: num(kv.get('id'), line), port: num(kv.get('dstport'), line), mac: kv.get('address'), mtu: num(kv.get('mtu'), line), up: kv.has('up') || undefined };
    }
    case 'addr':
      return { obj, verb: v, cidr: pos, dev: need(kv, 'dev', line), ...(kv.has('nodad') ? { nodad: true } : {}) };
    case 'neigh':
      return { obj, verb: v, ip: pos, dev: need(kv, 'dev', line), mac: kv.get('lladdr') };
    case 'route':
      return { obj, verb: v, dst: pos, dev: kv.get('dev'), via: kv.get('via'), table: num(kv.get('table'), line) ?? table };
    default:
      return { obj: 'fdb', verb: v, mac: pos, dev: need(kv, 'dev', line), dst: need(kv, 'dst', line) };
  }
}
