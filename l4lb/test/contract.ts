/**
 * The L4LB driver contract: the same assertions for every driver (nftables, userspace, ipvs), once
 * per address family (`FAMILIES`: IPv4 and IPv6 rows). `make(t, family)` builds a fresh driver plus
 * the addresses of that family it may use and a way to break its state behind its back (what an
 * admin's `nft flush ruleset` or `ipvsadm -C` does). Traffic assertions are in traffic-contract.ts.
 */
import type { Test } from 'tap';
import type { L4lbDriver, Service } from '../driver.js';
import { normalize, serviceKey } from '../services.js';

export interface DriverFixture {
  driver: L4lbDriver;
  /** The i-th VIP address and port this driver may program (i = 0..3). */
  vip(i: number): { ip: string; port: number };
  /** The i-th backend address and port (i = 0..3). */
  backend(i: number): { ip: string; port: number };
  /** Change the data plane behind the driver's back. */
  tamper(): Promise<void>;
}

function svc(f: DriverFixture, i: number, protocol: 'tcp' | 'udp', backends: [number, number][]): Service {
  const v = f.vip(i);
  return {
    key: serviceKey(protocol, v.ip, v.port),
    vip: v.ip,
    port: v.port,
    protocol,
    backends: backends.map(([b, weight]) => ({ ...f.backend(b), weight })),
  };
}

export type Family = 4 | 6;
/** The rows every driver runs: each assertion once over IPv4 addresses, once over IPv6. */
export const FAMILIES: readonly Family[] = [4, 6];

export async function runDriverContract(t: Test, make: (t: Test, family: Family) => Promise<DriverFixture>): Promise<void> {
  for (const family of FAMILIES) await t.test(`IPv${family}`, async (t) => runFamily(t, family, await make(t, family)));
}

async function runFamily(t: Test, family: Family, f: DriverFixture): Promise<void> {
  for (let i = 0; i < 4; i++) {
    t.equal(f.vip(i).ip.includes(':'), family === 6, `the fixture's VIP ${i} is IPv${family}`);
    t.equal(f.backend(i).ip.includes(':'), family === 6, `the fixture's backend ${i} is IPv${family}`);
  }
  const d = f.driver;
  const probe = await d.available();
  t.same(probe, { ok: true }, `${d.name} is available here`);
  await d.start();
  t.teardown(() => d.stop());

  const base = [svc(f, 0, 'tcp', [[0, 1], [1, 1]]), svc(f, 1, 'udp', [[2, 1]]), svc(f, 2, 'tcp', [[0, 1], [3, 1]])];
  const steps: { name: string; desired: Service[]; expect: { added: number; removed: number; changed: number } }[] = [
    { name: 'from empty', desired: base, expect: { added: 3, removed: 0, changed: 0 } },
    { name: 'same again is a no-op', desired: base, expect: { added: 0, removed: 0, changed: 0 } },
    { name: 'weight 0 (drain) changes one service', desired: [svc(f, 0, 'tcp', [[0, 1], [1, 0]]), base[1]!, base[2]!], expect: { added: 0, removed: 0, changed: 1 } },
    { name: 'backend added, service removed', desired: [svc(f, 0, 'tcp', [[0, 1], [1, 0]]), svc(f, 1, 'udp', [[2, 1], [3, 1]])], expect: { added: 0, removed: 1, changed: 1 } },
    { name: 'service added back', desired: [svc(f, 0, 'tcp', [[0, 1], [1, 0]]), svc(f, 1, 'udp', [[2, 1], [3, 1]]), base[2]!], expect: { added: 1, removed: 0, changed: 0 } },
    { name: 'backend removed', desired: [svc(f, 0, 'tcp', [[0, 1]]), svc(f, 1, 'udp', [[2, 1], [3, 1]]), base[2]!], expect: { added: 0, removed: 0, changed: 1 } },
    { name: 'everything removed', desired: [], expect: { added: 0, removed: 3, changed: 0 } },
    { name: 'programmed again', desired: base, expect: { added: 3, removed: 0, changed: 0 } },
  ];
  for (const s of steps) {
    const res = await d.apply(s.desired);
    t.match(res, s.expect, `apply: ${s.name}: minimal diff counts`);
    t.same(await d.dump(), normalize(s.desired), `apply: ${s.name}: dump round-trips`);
  }

  const clean = await d.reconcile(base);
  t.match(clean, { added: 0, removed: 0, changed: 0 }, 'reconcile with nothing to repair changes nothing');
  if (clean.rules !== undefined) t.equal(clean.rules, 0, 'reconcile with nothing to repair writes nothing');

  await f.tamper();
  t.notSame(await d.dump(), normalize(base), 'tamper changed the data plane');
  const repaired = await d.reconcile(base);
  t.ok(repaired.added + repaired.changed + (repaired.rules ?? 0) > 0, `reconcile reports the repair ${JSON.stringify(repaired)}`);
  t.same(await d.dump(), normalize(base), 'reconcile repaired the data plane');

  t.match(await d.reconcile(base), { added: 0, removed: 0, changed: 0 }, 'reconcile is idempotent');
  t.match(await d.apply(base), { added: 0, removed: 0, changed: 0 }, 'apply after reconcile is a no-op');
  await d.apply([]);
  t.same(await d.dump(), [], 'empty at the end');
}
