import t from 'tap';
import { Allocator, DEFAULT_OVERLAY, OverlayExhaustedError } from '../index.js';
import { MemStore } from './harness.js';

const mk = (store = new MemStore(), over: Partial<typeof DEFAULT_OVERLAY> = {}, nets = [{ key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420 }]) =>
  new Allocator({ store, config: { ...DEFAULT_OVERLAY, ...over }, initialNetworks: nets });

t.test('lowest free VTEP IP and /prefix, halves, MAC', async (t) => {
  const a = mk();
  await a.load();
  const rows: [string, string, string, string, string][] = [
    ['a1', '44.128.0.1/20', '70:b3:d5:80:00:01', '9.0.0.0/24', '9.0.0.0/25'],
    ['a2', '44.128.0.2/20', '70:b3:d5:80:00:02', '9.0.1.0/24', '9.0.1.0/25'],
    ['a3', '44.128.0.3/20', '70:b3:d5:80:00:03', '9.0.2.0/24', '9.0.2.0/25'],
  ];
  for (const [id, vtep, mac, subnet, bridge] of rows) {
    const g = await a.ensureAgent(id, `10.0.0.${id.slice(1)}`);
    t.same([g.vtep_ip, g.vtep_mac, g.subnets.dcos!.subnet, g.subnets.dcos!.bridge], [vtep, mac, subnet, bridge], id);
  }
  t.equal((await a.ensureAgent('a2', '10.0.0.2')).vtep_ip, '44.128.0.2/20', 'idempotent');
  t.ok(await a.releaseAgent('a2'));
  const a4 = await a.ensureAgent('a4', '10.0.0.4');
  t.same([a4.vtep_ip, a4.subnets.dcos!.subnet], ['44.128.0.2/20', '9.0.1.0/24'], 'freed share is the lowest free again');
});

t.test('persisted before handed out; a new allocator on the same store never reallocates', async (t) => {
  const store = new MemStore();
  const a = mk(store);
  await a.load();
  await a.ensureAgent('a1', '10.0.0.1');
  t.ok(store.data.has('overlay/agents/a1'), 'written to the store');
  await a.ensureAgent('a2', '10.0.0.2');
  const b = mk(store);
  await b.load();
  t.same(await b.ensureAgent('a1', '10.0.0.1'), a.agents.get('a1'), 'same share after restart');
  const g = await b.ensureAgent('a3', '10.0.0.3');
  t.same([g.vtep_ip, g.subnets.dcos!.subnet], ['44.128.0.3/20', '9.0.2.0/24'], 'nothing allocated twice');
});

t.test('a store failure hands nothing out', async (t) => {
  const store = new MemStore();
  const a = mk(store);
  await a.load();
  store.put = async () => {
    throw new Error('disk full');
  };
  await t.rejects(a.ensureAgent('a1', '10.0.0.1'), /disk full/);
  t.equal(a.agents.size, 0);
});

t.test('exhaustion is an explicit error', async (t) => {
  const a = mk(new MemStore(), { vtep_subnet: '44.128.0.0/30' }, [{ key: 'small', name: 'small', subnet: '10.9.0.0/24', prefix: 25, mtu: 1420 }]);
  const seen: OverlayExhaustedError[] = [];
  (a as unknown as { opts: { onExhausted: (e: OverlayExhaustedError) => void } }).opts.onExhausted = (e) => seen.push(e);
  await a.load();
  await a.ensureAgent('a1', '10.0.0.1');
  const g2 = await a.ensureAgent('a2', '10.0.0.2');
  t.same(g2.subnets, { small: { subnet: '10.9.0.128/25', bridge: '10.9.0.128/26' } });
  await t.rejects(a.ensureAgent('a3', '10.0.0.3'), { name: 'OverlayExhaustedError', message: /VTEP address/ });
  t.match(a.errors.get('a3'), /no free VTEP/);
  t.ok(seen.length >= 1);
});

t.test('network slice exhaustion leaves the agent without that network, with an error', async (t) => {
  const a = mk(new MemStore(), {}, [{ key: 'one', name: 'one', subnet: '10.9.0.0/24', prefix: 25, mtu: 1420 }]);
  await a.load();
  await a.ensureAgent('a1', '10.0.0.1');
  await a.ensureAgent('a2', '10.0.0.2');
  const g = await a.ensureAgent('a3', '10.0.0.3');
  t.same(g.subnets, {});
  t.match(a.errors.get('a3'), /no free \/25 in network "one"/);
});

t.test('networks added and removed at run time', async (t) => {
  const a = mk();
  await a.load();
  await a.ensureAgent('a1', '10.0.0.1');
  await a.addNetwork({ key: 'hr', name: 'hr', subnet: '10.10.0.0/16', prefix: 24, mtu: 1420 });
  t.same(a.agents.get('a1')!.subnets.hr, { subnet: '10.10.0.0/24', bridge: '10.10.0.0/25' }, 'existing agent gets a slice');
  await a.putRule({ key: 'hr>dcos', from: 'hr', to: 'dcos', action: 'allow' });
  await a.removeNetwork('hr');
  t.notOk(a.agents.get('a1')!.subnets.hr);
  t.equal(a.rules.size, 0, 'rules naming it are gone');
});
