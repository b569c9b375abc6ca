import t from 'tap';
import { requestJson } from '../../common/index.js';
import { FakeMaster, serveOverlayMaster } from './harness.js';
import { OverlayMaster } from '../index.js';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const { store, m, master, url } = await serveOverlayMaster(t);
  const call = (method: string, path: string, body?: unknown) => requestJson(url + path, { method, body });
  return { store, m, master, call };
}

t.test('bad input is rejected with the field named and nothing stored', async (t) => {
  const { store, call } = await setup(t);
  await call('POST', '/v1/networks', { name: 'hr', subnet: '10.10.0.0/16' });
  const before = JSON.stringify([...store.data]);
  const rows: [string, unknown, string][] = [
    ['/v1/networks', { name: 'x', subnet: '10.10.5.0/24', prefix: 26 }, 'subnet'],
    ['/v1/networks', { name: 'x', subnet: '10.20.0.0/16', prefix: 8 }, 'prefix'],
    ['/v1/networks', { name: 'waytoolongname', subnet: '10.20.0.0/16' }, 'name'],
    ['/v1/networks', { name: 'none', subnet: '10.20.0.0/16' }, 'name'],
    ['/v1/networks/isolation', { from: 'hr', to: 'it', ports: [80] }, 'to'],
    ['/v1/networks/isolation', { network: 'it', default: 'deny' }, 'network'],
  ];
  for (const [path, body, field] of rows) {
    const r = await call('POST', path, body);
    t.equal(r.status, 422, `${JSON.stringify(body)} -> 422`);
    t.equal((r.body as { details: { path: string }[] }).details[0]!.path, field, `names ${field}`);
  }
  t.equal(JSON.stringify([...store.data]), before, 'store unchanged');
  t.equal((await call('POST', '/v1/networks', { name: 'hr', subnet: '10.30.0.0/16' })).status, 422, 'duplicate name');
});

t.test('networks CRUD, in use needs force, agents get and lose shares', async (t) => {
  const { m, master, call } = await setup(t);
  m.setAgents([{ id: 'S1', ip: '10.0.0.1' }, { id: 'S2', ip: '10.0.0.2' }]);
  await master.sync();
  const created = await call('POST', '/v1/networks', { name: 'it', subnet: '10.20.0.0/16', prefix: 24 });
  t.equal(created.status, 201);
  t.same((created.body as { agents: unknown[] }).agents, [
    { agent_id: 'S1', subnet: '10.20.0.0/24', bridge: '10.20.0.0/25' },
    { agent_id: 'S2', subnet: '10.20.1.0/24', bridge: '10.20.1.0/25' },
  ]);
  const ls = (await call('GET', '/v1/networks')).body as { networks: { name: string }[] };
  t.same(ls.networks.map((n) => n.name), ['dcos', 'it']);
  m.tasks = [{ id: 'web.1', state: 'TASK_RUNNING', statuses: [{ state: 'TASK_RUNNING', container_status: { network_infos: [{ name: 'it', ip_addresses: [{ ip_address: '10.20.0.2' }] }] } }] }];
  t.equal((await call('DELETE', '/v1/networks/it')).status, 409, 'in use');
  t.equal((await call('DELETE', '/v1/networks/it?force=true')).status, 200, 'forced');
  t.equal((await call('GET', '/v1/networks/it')).status, 404);
  t.equal((await call('DELETE', '/v1/agents/S2/overlay')).status, 200);
  t.notOk(master.allocator.agents.has('S2'));
  t.equal((await call('DELETE', '/v1/agents/S2/overlay')).status, 404);
});

t.test('an agent gone for the configured time loses its share', async (t) => {
  const { FakeClock } = await import('../../common/index.js');
  const clock = new FakeClock();
  const m = new FakeMaster();
  const master = new OverlayMaster(m, { clock, releaseAfterMs: 60_000 });
  await master.start();
  t.teardown(() => master.stop());
  m.setAgents([{ id: 'S1', ip: '10.0.0.1' }, { id: 'S2', ip: '10.0.0.2' }]);
  await master.sync();
  m.setAgents([{ id: 'S1', ip: '10.0.0.1' }]);
  await master.sync();
  clock.advance(59_000);
  await master.sync();
  t.ok(master.allocator.agents.has('S2'), 'kept before the deadline');
  clock.advance(1_000);
  await master.sync();
  t.notOk(master.allocator.agents.has('S2'), 'released after it');
});

t.test('isolation API: policies, rules, delete', async (t) => {
  const { call } = await setup(t);
  await call('POST', '/v1/networks', { name: 'hr', subnet: '10.10.0.0/16' });
  await call('POST', '/v1/networks', { name: 'it', subnet: '10.20.0.0/16' });
  t.equal((await call('POST', '/v1/networks/isolation', { network: 'hr', default: 'deny' })).status, 201);
  const r = await call('POST', '/v1/networks/isolation', { from: 'hr', to: 'it', ports: [80], protocol: 'tcp' });
  t.equal(r.status, 201);
  const view = (await call('GET', '/v1/networks/isolation')).body as { policies: { network: string; default: string }[]; rules: { key: string; packets: number }[] };
  t.same(view.policies.map((p) => [p.network, p.default]), [['dcos', 'allow'], ['hr', 'deny'], ['it', 'allow']]);
  t.same(view.rules.map((x) => [x.key, x.packets]), [['hr>it:tcp:80', 0]]);
  t.equal((await call('DELETE', `/v1/networks/isolation?rule=${encodeURIComponent('hr>it:tcp:80')}`)).status, 200);
  t.equal((await call('DELETE', '/v1/networks/isolation?network=hr')).status, 200);
  const after = (await call('GET', '/v1/networks/isolation')).body as { rules: unknown[] };
  t.same(after.rules, []);
});
