/**
 * The masters' aggregate over real HTTP on loopback: healthy and unhealthy agents, one that never
 * answers (timeout), one that answers 500, one that answers garbage, one with its port closed. Each
 * unreachable agent is an unhealthy node saying why; the views have DC/OS's shapes; polling is
 * bounded in concurrency; a missing node or unit is a 404 naming it.
 */
import t from 'tap';
import http from 'node:http';
import { Router, serve, type HttpServer } from '../../common/http.js';
import { HealthAggregator, mapLimit, targetsFromState, type NodeTarget } from '../aggregate.js';
import { mountMasterRoutes } from '../routes.js';
import { HealthRegistry } from '../registry.js';
import { freePort } from '../../test/lib/index.js';

const HOST = '127.0.0.1';

function unitsOf(spec: [string, 0 | 1, string][]) {
  return { units: spec.map(([id, health, output]) => ({ id, name: id, health, output, help: `help ${id}`, description: `help ${id}` })), hostname: 'h', ip: HOST, node_role: 'agent', mesos_id: 'x' };
}

async function agentServer(t: { teardown(fn: () => unknown): void }, body: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<string> {
  const s = http.createServer(body);
  await new Promise<void>((r) => s.listen(0, HOST, r));
  t.teardown(() => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return `http://${HOST}:${(s.address() as { port: number }).port}`;
}

const json = (v: unknown) => (_q: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));

t.test('the aggregate over healthy, unhealthy and unreachable agents', async (t) => {
  const a = (ip: string, url: string): NodeTarget => ({ ip, role: 'agent', hostname: `host-${ip}`, mesosId: `S-${ip}`, leader: false, url });
  const targets = [
    { ip: '10.0.0.1', role: 'master', hostname: 'm', mesosId: 'M', leader: true } as NodeTarget,
    a('10.0.0.2', await agentServer(t, json(unitsOf([['sextant-l4lb', 1, 'ok'], ['sextant-overlay', 1, 'in place']])))),
    a('10.0.0.3', await agentServer(t, json(unitsOf([['sextant-l4lb', 0, 'table inet sextant_l4lb is missing'], ['sextant-overlay', 1, 'in place']])))),
    a('10.0.0.4', await agentServer(t, () => {})), // never answers
    a('10.0.0.5', await agentServer(t, (_q, res) => res.writeHead(500).end('internal error'))),
    a('10.0.0.6', await agentServer(t, json({ hello: 'world' }))),
    a('10.0.0.7', `http://${HOST}:${await freePort(HOST)}`),
  ];
  const registry = new HealthRegistry();
  registry.add({ id: 'sextant-master-store', name: 'Master store', help: 'store', check: async () => ({ healthy: true, output: 'written' }) });
  const agg = new HealthAggregator({ targets: () => targets, local: () => registry.run(), timeoutMs: 500, cacheMs: 0 });
  const router = new Router();
  mountMasterRoutes(router, { registry, aggregator: agg, targets: () => targets, info: () => ({ ip: '10.0.0.1', hostname: 'm', role: 'master', mesosId: 'M' }), logs: {} });
  const srv: HttpServer = await serve(router, { host: HOST, port: 0 });
  t.teardown(() => srv.close());
  const base = `http://${HOST}:${srv.address().port}/system/health/v1`;
  const get = async (p: string) => {
    const r = await fetch(`${base}${p}`);
    return { status: r.status, body: (await r.json()) as any };
  };

  const nodes = (await get('/nodes')).body.nodes as { host_ip: string; health: number; role: string; output: string }[];
  t.same(nodes.map((n) => [n.host_ip, n.role, n.health]), [
    ['10.0.0.1', 'master', 1],
    ['10.0.0.2', 'agent', 1],
    ['10.0.0.3', 'agent', 0],
    ['10.0.0.4', 'agent', 0],
    ['10.0.0.5', 'agent', 0],
    ['10.0.0.6', 'agent', 0],
    ['10.0.0.7', 'agent', 0],
  ], '/nodes: masters first, unhealthy where a unit is or the node did not answer');
  const why = Object.fromEntries(nodes.map((n) => [n.host_ip, n.output]));
  t.equal(why['10.0.0.3'], '', 'a node that answered has no node-level output');
  t.match(why['10.0.0.4'], /GET http:\/\/127\.0\.0\.1:\d+\/system\/health\/v1 failed: no answer within 500 ms/);
  t.match(why['10.0.0.5'], /answered HTTP 500: internal error/);
  t.match(why['10.0.0.6'], /not a health report \(no units array\)/);
  t.match(why['10.0.0.7'], /failed: fetch failed \(ECONNREFUSED\)/);

  t.same((await get('/units')).body, {
    units: [
      { id: 'sextant-l4lb', name: 'sextant-l4lb', health: 0, description: 'help sextant-l4lb' },
      { id: 'sextant-master-store', name: 'Master store', health: 1, description: 'store' },
      { id: 'sextant-overlay', name: 'sextant-overlay', health: 1, description: 'help sextant-overlay' },
    ],
  }, '/units: a unit is unhealthy when it is on any node');
  t.same((await get('/units/sextant-l4lb/nodes')).body, {
    nodes: [
      { host_ip: '10.0.0.2', health: 1, role: 'agent', output: 'ok' },
      { host_ip: '10.0.0.3', health: 0, role: 'agent', output: 'table inet sextant_l4lb is missing' },
    ],
  }, '/units/{id}/nodes');
  t.same((await get('/units/sextant-l4lb/nodes/10.0.0.3')).body, { host_ip: '10.0.0.3', health: 0, role: 'agent', output: 'table inet sextant_l4lb is missing', help: 'help sextant-l4lb' });
  t.same((await get('/nodes/10.0.0.3/units')).body, {
    units: [
      { id: 'sextant-l4lb', name: 'sextant-l4lb', health: 0, description: 'help sextant-l4lb' },
      { id: 'sextant-overlay', name: 'sextant-overlay', health: 1, description: 'help sextant-overlay' },
    ],
  }, '/nodes/{ip}/units');
  t.same((await get('/nodes/10.0.0.3/units/sextant-l4lb')).body, { id: 'sextant-l4lb', name: 'sextant-l4lb', health: 0, output: 'table inet sextant_l4lb is missing', description: 'help sextant-l4lb', help: 'help sextant-l4lb' });
  t.same((await get('/nodes/10.0.0.1')).body, { host_ip: '10.0.0.1', health: 1, role: 'master', output: '' });
  const report = (await get('/report')).body;
  t.same(Object.keys(report).sort(), ['Nodes', 'Units', 'UpdatedTime'], 'the report is 3DT\'s MonitoringResponse');
  t.match(report.Nodes['10.0.0.3'], { IP: '10.0.0.3', Role: 'agent', Host: 'host-10.0.0.3', Health: 0, MesosID: 'S-10.0.0.3', Output: { 'sextant-l4lb': 'table inet sextant_l4lb is missing' }, Units: [{ UnitName: 'sextant-l4lb', Health: 0 }, { UnitName: 'sextant-overlay', Health: 1 }] });
  t.match(report.Nodes['10.0.0.7'].Output.node, /ECONNREFUSED/, 'an unreachable node says why in Output.node');
  t.match(report.Units['sextant-l4lb'], { UnitName: 'sextant-l4lb', Health: 0, Nodes: [{ IP: '10.0.0.2' }, { IP: '10.0.0.3' }] });

  for (const [p, msg] of [
    ['/nodes/10.9.9.9', /node 10\.9\.9\.9 not found/],
    ['/nodes/10.0.0.3/units/nope', /unit nope not found on node 10\.0\.0\.3/],
    ['/units/nope/nodes', /unit nope not found on any node/],
  ] as const) {
    const r = await get(p);
    t.equal(r.status, 404, `${p} is 404`);
    t.match(r.body.message, msg);
  }
  const r = await fetch(`http://${HOST}:${srv.address().port}/system/diag/v1/nodes/10.9.9.9/dumps`);
  t.equal(r.status, 404, 'logs and dumps only of known nodes');
});

t.test('polls at most `concurrency` agents at a time, and one poll serves concurrent requests', async (t) => {
  let now = 0;
  let max = 0;
  let calls = 0;
  const targets: NodeTarget[] = Array.from({ length: 9 }, (_, i) => ({ ip: `10.0.0.${i + 2}`, role: 'agent', hostname: '', mesosId: '', leader: false, url: `http://x${i}` }));
  const agg = new HealthAggregator({
    targets: () => targets,
    local: async () => [],
    concurrency: 3,
    cacheMs: 1000,
    clock: { now: () => now } as never,
    get: async () => {
      calls++;
      max = Math.max(max, ++now);
      await new Promise((r) => setImmediate(r));
      now--;
      return unitsOf([['u', 1, '']]);
    },
  });
  const [a, b] = await Promise.all([agg.nodes(), agg.nodes()]);
  t.equal(a, b, 'concurrent requests share one poll');
  t.equal(calls, 9, 'each agent asked once');
  t.equal(max, 3, 'never more than 3 at a time');
  await agg.nodes();
  t.equal(calls, 9, 'a fresh result is reused');
  t.same(await mapLimit([3, 1, 2], 2, async (x) => x * 2), [6, 2, 4], 'mapLimit keeps input order');
});

t.test('targets from /master/state: the master and each agent by its pid', async (t) => {
  const state = { slaves: [{ id: 'S1', hostname: 'a1', pid: 'slave(1)@10.0.0.2:5051' }, { id: 'S2', pid: 'slave(1)@[fd00::2]:5051' }, { id: 'S3', pid: 'garbage' }] };
  t.same(targetsFromState(state, { ip: '10.0.0.1', hostname: 'm', masterId: 'M' }), [
    { ip: '10.0.0.1', role: 'master', hostname: 'm', mesosId: 'M', leader: true },
    { ip: '10.0.0.2', role: 'agent', hostname: 'a1', mesosId: 'S1', leader: false, url: 'http://10.0.0.2:5051' },
    { ip: 'fd00::2', role: 'agent', hostname: 'fd00::2', mesosId: 'S2', leader: false, url: 'http://[fd00::2]:5051' },
  ]);
});
