/**
 * Desired state vs a kernel dump -> the minimal `ip` and `bridge` batch lines (pure). Everything
 * is an idempotent ensure (`replace`), so re-applying a plan is harmless. Only objects we own are
 * removed: neighbours, fdb entries and routes on the vxlan device, table 42, rules looking up 42,
 * and bridges named `m-*`.
 */
import { bridgeName, OVERLAY_TABLE, RULE_PREF, type DesiredState } from './desired.js';
import type { KernelState } from './kernel.js';

export interface Plan {
  ip: string[];
  bridge: string[];
}

export function planChanges(want: DesiredState, have: KernelState): Plan {
  const ip: string[] = [];
  const bridge: string[] = [];
  const v = want.vtep;
  const link = have.links.get(v.name);
  const recreate = link && (link.kind !== 'vxlan' || link.vni !== v.vni || link.port !== v.port || link.learning !== false);
  if (recreate) ip.push(`link del ${v.name}`);
  if (!link || recreate) ip.push(`link add ${v.name} type vxlan id ${v.vni} dstport ${v.port} nolearning noudpcsum`);
  const fresh = !link || recreate;
  if (fresh || link.mac !== v.mac || link.mtu !== v.mtu || !link.up) ip.push(`link set ${v.name} address ${v.mac} mtu ${v.mtu} up`);
  addrLines(ip, v.name, [v.addr, v.addr6], fresh ? [] : link.addrs);

  const wantBridges = new Set(want.bridges.map((b) => b.name));
  for (const b of want.bridges) {
    const have1 = have.links.get(b.name);
    if (!have1) ip.push(`link add ${b.name} type bridge`);
    if (!have1 || have1.mtu !== b.mtu || !have1.up) ip.push(`link set ${b.name} mtu ${b.mtu} up`);
    addrLines(ip, b.name, [b.addr, b.addr6], have1?.addrs ?? []);
  }
  for (const l of have.links.values()) if (l.kind === 'bridge' && l.name.startsWith(bridgeName('')) && !wantBridges.has(l.name)) ip.push(`link del ${l.name}`);

  const dev = v.name;
  syncSet(
    want.neighs,
    fresh ? [] : have.neighs,
    (n) => `${n.ip} ${n.mac}`,
    (n) => ip.push(`neigh replace ${n.ip} lladdr ${n.mac} dev ${dev} nud permanent`),
    (n) => ip.push(`neigh del ${n.ip} dev ${dev}`),
    (n) => n.ip,
  );
  syncSet(
    want.routes,
    fresh ? [] : have.routes,
    (r) => `${r.dst} ${r.via}`,
    (r) => ip.push(`route replace ${r.dst} via ${r.via} dev ${dev} onlink`),
    (r) => ip.push(`route del ${r.dst} dev ${dev}`),
    (r) => r.dst,
  );
  syncSet(
    want.table42,
    have.table42,
    (r) => `${r.dst} ${r.via}`,
    (r) => ip.push(`route replace ${r.dst} via ${r.via} dev ${dev} onlink table ${OVERLAY_TABLE}`),
    (r) => ip.push(`route del ${r.dst} table ${OVERLAY_TABLE}`),
    (r) => r.dst,
  );
  const wantRules = want.rules.map((src) => ({ src, pref: RULE_PREF }));
  syncSet(
    wantRules,
    have.rules,
    (r) => `${r.src} ${r.pref}`,
    (r) => ip.push(`rule add from ${r.src} lookup ${OVERLAY_TABLE} pref ${r.pref}`),
    (r) => ip.push(`rule del from ${r.src} lookup ${OVERLAY_TABLE} pref ${r.pref}`),
  );
  syncSet(
    want.fdbs,
    fresh ? [] : have.fdbs,
    (f) => `${f.mac} ${f.dst}`,
    (f) => bridge.push(`fdb replace ${f.mac} dev ${dev} dst ${f.dst} self permanent`),
    (f) => bridge.push(`fdb del ${f.mac} dev ${dev} dst ${f.dst} self`),
    (f) => f.mac,
  );
  return { ip, bridge };
}

/** IPv6 addresses skip duplicate address detection (ours by construction; usable at once). */
function addrLines(out: string[], dev: string, want: (string | undefined)[], have: string[]): void {
  const w = want.filter((a): a is string => a !== undefined);
  for (const a of w) if (!have.includes(a)) out.push(`addr replace ${a} dev ${dev}${a.includes(':') ? ' nodad' : ''}`);
  for (const a of have) if (!w.includes(a)) out.push(`addr del ${a} dev ${dev}`);
}

/**
 * Add what is wanted and missing; delete what is present and unwanted. `slot` names the kernel
 * object a line replaces (a route is keyed by destination: `replace` overwrites a wrong gateway,
 * so no delete is needed for it).
 */
function syncSet<T>(want: T[], have: T[], id: (x: T) => string, add: (x: T) => void, del: (x: T) => void, slot: (x: T) => string = id): void {
  const haveIds = new Set(have.map(id));
  const wantSlots = new Set(want.map(slot));
  for (const w of want) if (!haveIds.has(id(w))) add(w);
  const seen = new Set<string>();
  for (const h of have) {
    const s = slot(h);
    if (!wantSlots.has(s) && !seen.has(s)) del(h);
    seen.add(s);
  }
}
