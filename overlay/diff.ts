/**
 * Desired state vs a kernel dump -> the minimal typed plan, `Op[]` (pure). Everything is an
 * idempotent ensure (`replace`), so re-applying a plan is harmless. Only objects we own are
 * removed: neighbours, fdb entries and routes on the vxlan device, table 42, rules looking up 42,
 * and bridges named `m-*`. Links and addresses come first (later ops need the devices), fdb
 * entries last.
 */
import { bridgeName, OVERLAY_TABLE, RULE_PREF, type DesiredState } from './desired.js';
import type { KernelState } from './kernel.js';
import { MAIN_TABLE, type Op } from './ops.js';

export function planChanges(want: DesiredState, have: KernelState): Op[] {
  const ops: Op[] = [];
  const v = want.vtep;
  const link = have.links.get(v.name);
  const recreate = link && (link.kind !== 'vxlan' || link.vni !== v.vni || link.port !== v.port || link.learning !== false);
  if (recreate) ops.push({ op: 'link.del', name: v.name });
  if (!link || recreate) ops.push({ op: 'vxlan.add', name: v.name, vni: v.vni, port: v.port });
  const fresh = !link || recreate;
  if (fresh || link.mac !== v.mac || link.mtu !== v.mtu || !link.up) ops.push({ op: 'link.set', name: v.name, mac: v.mac, mtu: v.mtu, up: true });
  addrOps(ops, v.name, [v.addr, v.addr6], fresh ? [] : link.addrs);

  const wantBridges = new Set(want.bridges.map((b) => b.name));
  for (const b of want.bridges) {
    const have1 = have.links.get(b.name);
    if (!have1) ops.push({ op: 'bridge.add', name: b.name });
    if (!have1 || have1.mtu !== b.mtu || !have1.up) ops.push({ op: 'link.set', name: b.name, mtu: b.mtu, up: true });
    addrOps(ops, b.name, [b.addr, b.addr6], have1?.addrs ?? []);
  }
  for (const l of have.links.values()) if (l.kind === 'bridge' && l.name.startsWith(bridgeName('')) && !wantBridges.has(l.name)) ops.push({ op: 'link.del', name: l.name });

  const dev = v.name;
  syncSet(
    want.neighs,
    fresh ? [] : have.neighs,
    (n) => `${n.ip} ${n.mac}`,
    (n) => ops.push({ op: 'neigh.replace', dev, ip: n.ip, mac: n.mac }),
    (n) => ops.push({ op: 'neigh.del', dev, ip: n.ip }),
    (n) => n.ip,
  );
  syncSet(
    want.routes,
    fresh ? [] : have.routes,
    (r) => `${r.dst} ${r.via}`,
    (r) => ops.push({ op: 'route.replace', dst: r.dst, via: r.via, dev, table: MAIN_TABLE }),
    (r) => ops.push({ op: 'route.del', dst: r.dst, dev, table: MAIN_TABLE }),
    (r) => r.dst,
  );
  // Table-42 routes go through the VXLAN device: a recreated device takes them with it.
  syncSet(
    want.table42,
    fresh ? [] : have.table42,
    (r) => `${r.dst} ${r.via}`,
    (r) => ops.push({ op: 'route.replace', dst: r.dst, via: r.via, dev, table: OVERLAY_TABLE }),
    (r) => ops.push({ op: 'route.del', dst: r.dst, table: OVERLAY_TABLE }),
    (r) => r.dst,
  );
  const wantRules = want.rules.map((src) => ({ src, pref: RULE_PREF }));
  syncSet(
    wantRules,
    have.rules,
    (r) => `${r.src} ${r.pref}`,
    (r) => ops.push({ op: 'rule.add', src: r.src, table: OVERLAY_TABLE, pref: r.pref }),
    (r) => ops.push({ op: 'rule.del', src: r.src, table: OVERLAY_TABLE, pref: r.pref }),
  );
  syncSet(
    want.fdbs,
    fresh ? [] : have.fdbs,
    (f) => `${f.mac} ${f.dst}`,
    (f) => ops.push({ op: 'fdb.replace', dev, mac: f.mac, dst: f.dst }),
    (f) => ops.push({ op: 'fdb.del', dev, mac: f.mac, dst: f.dst }),
    (f) => f.mac,
  );
  return ops;
}

/**
 * Stale addresses go first: deleting a primary IPv4 address also deletes the secondaries of its
 * subnet, so a new address added before the old one's delete would vanish with it. IPv6
 * addresses skip duplicate address detection (ours by construction; usable at once).
 */
function addrOps(out: Op[], dev: string, want: (string | undefined)[], have: string[]): void {
  const w = want.filter((a): a is string => a !== undefined);
  for (const a of have) if (!w.includes(a)) out.push({ op: 'addr.del', dev, cidr: a });
  for (const a of w) if (!have.includes(a)) out.push({ op: 'addr.replace', dev, cidr: a, nodad: a.includes(':') });
}

/**
 * Add what is wanted and missing; delete what is present and unwanted. `slot` names the kernel
 * object an op replaces (a route is keyed by destination: `replace` overwrites a wrong gateway,
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
