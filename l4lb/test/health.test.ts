/**
 * The sextant-l4lb unit: the pure drift of desired vs dumped services (one row per kind of
 * difference), and the check on the real nftables driver in a throwaway namespace: healthy once a
 * version is applied, unhealthy naming the table when it is flushed or deleted, healthy after a
 * reconcile repairs it.
 */
import t from 'tap';
import { createNetns, requireRoot, requireTools } from '../../test/lib/index.js';
import { createRegistry } from '../../common/metrics.js';
import type { Snapshot, Vip } from '../../contracts/index.js';
import type { Service } from '../driver.js';
import { driftOf, l4lbHealthCheck } from '../health.js';
import { NftablesDriver } from '../nft/driver.js';
import { L4lbReconciler } from '../reconciler.js';

const svc = (vip: string, backends: [string, number, number][]): Service => ({
  key: `tcp/${vip}:80`,
  vip,
  port: 80,
  protocol: 'tcp',
  backends: backends.map(([ip, port, weight]) => ({ ip, port, weight })),
});

t.test('drift of desired vs kernel services', async (t) => {
  const a = svc('11.0.0.1', [['10.0.0.1', 80, 1]]);
  const b = svc('11.0.0.2', [['10.0.0.2', 80, 1]]);
  const b2 = svc('11.0.0.2', [['10.0.0.2', 80, 0]]);
  const rows: [string, Service[], Service[], ReturnType<typeof driftOf>][] = [
    ['equal', [a, b], [b, a], { missing: [], extra: [], changed: [] }],
    ['missing', [a, b], [a], { missing: ['tcp/11.0.0.2:80'], extra: [], changed: [] }],
    ['extra', [a], [a, b], { missing: [], extra: ['tcp/11.0.0.2:80'], changed: [] }],
    ['other weight', [a, b], [a, b2], { missing: [], extra: [], changed: ['tcp/11.0.0.2:80'] }],
  ];
  for (const [what, want, have, d] of rows) t.same(driftOf(want, have), d, what);
});

const vip: Vip = { key: 'tcp/11.0.0.9:80', ip: '11.0.0.9', port: 80, protocol: 'tcp', backends: [{ ip: '10.1.0.1', port: 8080, weight: 1, task_id: 't1', agent_id: 'a1' }] } as Vip;
const view = (version: number) => ({ version, parts: { vips: [vip] } }) as unknown as Snapshot;

t.test('the check on the nftables driver: flushed and deleted tables are unhealthy until reconciled', async (t) => {
  requireRoot();
  requireTools('nft', 'ip');
  const ns = await createNetns(t, 'l4h');
  const driver = new NftablesDriver({ netns: ns.name });
  const r = new L4lbReconciler({ driver, registry: createRegistry(), reconcileMs: 3_600_000 });
  const check = l4lbHealthCheck(() => ({ reconciler: r }));
  const signal = new AbortController().signal;
  t.match(await l4lbHealthCheck(() => ({ startError: 'no driver: nft -c failed' })).check(signal), { healthy: false, output: /not running: no driver/ }, 'a driver that did not start is named');
  await r.start();
  t.teardown(() => r.stop());
  t.match(await check.check(signal), { healthy: false, output: /no control-plane version applied yet/ }, 'unhealthy before the first version');
  await r.apply(view(7));
  t.match(await check.check(signal), { healthy: true, output: /nftables driver, version 7: kernel holds the 1 desired service/ }, 'healthy once applied');
  await ns.exec('nft', ['flush', 'table', 'inet', driver.table]);
  t.match(await check.check(signal), { healthy: false, output: /version 7: kernel differs.*chains or rules differ/ }, 'a flushed table is unhealthy');
  await r.reconcileNow();
  t.match(await check.check(signal), { healthy: true }, 'healthy after a reconcile');
  await ns.exec('nft', ['delete', 'table', 'inet', driver.table]);
  t.match(await check.check(signal), { healthy: false, output: new RegExp(`1 service\\(s\\) missing from the kernel \\(tcp/11.0.0.9:80\\).*table inet ${driver.table} is missing`) }, 'a deleted table is unhealthy, naming what is missing');
  await r.reconcileNow();
  t.match(await check.check(signal), { healthy: true }, 'healthy after a reconcile again');
});
