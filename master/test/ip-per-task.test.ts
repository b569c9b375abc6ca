/**
 * IP per task as the DC/OS 1.8 docs write it: `ipAddress: {networkName, discovery: {ports}}` means
 * networks [{mode: container, name}] with the discovery ports as port mappings; a network the
 * overlay does not know is a 422 at the door (real master, real overlay master component, a
 * scripted agent that records what it is asked to launch).
 */
import t from 'tap';
import { requestJson } from '../../common/index.js';
import { OverlayMaster } from '../../overlay/index.js';
import { eventually } from '../../test/lib/index.js';
import { startMaster } from './harness.js';

const ipApp = (extra: Record<string, unknown> = {}) => ({
  id: '/ipt',
  cmd: 'sleep 100',
  instances: 1,
  cpus: 0.1,
  mem: 16,
  ipAddress: { networkName: 'blue', discovery: { ports: [{ number: 8080, name: 'http', protocol: 'tcp', labels: { VIP_0: '/ipt:80' } }] } },
  ...extra,
});

t.test('ipAddress joins the named network; the task carries it and its container ports', async (t) => {
  const h = await startMaster(t);
  const overlay = new OverlayMaster(h.master);
  await overlay.start();
  t.teardown(() => overlay.stop());
  t.equal((await requestJson(`http://${h.mesos}/v1/networks`, { body: { name: 'blue', subnet: '10.30.0.0/16' } })).status, 201, 'network blue created');
  const agent = await h.agent(2, { autoRun: false });

  const post = await h.api('/v2/apps', { body: ipApp() });
  t.equal(post.status, 201, JSON.stringify(post.body));
  t.same(post.body.networks, [{ mode: 'container', name: 'blue' }], 'same meaning as networks [{mode: container, name}]');
  t.same(post.body.container.portMappings, [{ containerPort: 8080, protocol: 'tcp', name: 'http', labels: { VIP_0: '/ipt:80' } }], 'discovery ports become port mappings');
  t.same(post.body.portDefinitions, [], 'no host ports');
  t.same(post.body.ipAddress, { networkName: 'blue', groups: [], labels: {}, discovery: { ports: [{ number: 8080, name: 'http', protocol: 'tcp', labels: { VIP_0: '/ipt:80' } }] } }, 'shown back as ipAddress');

  await eventually(() => agent.launched.length === 1, 5000, 20, 'task launched');
  const task = agent.launched[0]!;
  t.same(task.network, { name: 'blue', port_mappings: [] }, 'the task joins network blue (no host port mappings)');
  t.same(task.ports, [], 'no host ports taken');
  t.equal(task.env.PORT0, '8080', 'PORT0 is the container port');
  t.same(task.discovery?.ports.ports, [{ number: 8080, name: 'http', protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '/ipt:80' }] } }]);

  const shown = (await h.api('/v2/apps/ipt')).body.app;
  const { version: _v, versionInfo: _vi, tasks: _t, deployments: _d, tasksStaged: _a, tasksRunning: _b, tasksHealthy: _c, tasksUnhealthy: _e, lastTaskFailure: _f, ...definition } = shown;
  const put = await h.api('/v2/apps/ipt?force=true', { method: 'PUT', body: { ...definition, instances: 2 } });
  t.equal(put.status, 200, `GET then PUT back (ipAddress and networks both present) is accepted: ${JSON.stringify(put.body)}`);
  t.equal((await h.api('/v2/apps/ipt')).body.app.instances, 2);
});

t.test('an unknown network is a 422 naming it and the known ones; nothing is stored', async (t) => {
  const h = await startMaster(t);
  const overlay = new OverlayMaster(h.master);
  await overlay.start();
  t.teardown(() => overlay.stop());
  const rows: [string, unknown, string, RegExp][] = [
    ['ipAddress names an unknown network', ipApp({ ipAddress: { networkName: 'red' } }), '/ipAddress/networkName', /unknown network 'red' \(known: dcos\)/],
    ['networks names an unknown network', { ...ipApp(), ipAddress: undefined, networks: [{ mode: 'container', name: 'red' }] }, '/networks/0/name', /unknown network 'red' \(known: dcos\)/],
    ['ipAddress without networkName', ipApp({ ipAddress: { discovery: { ports: [] } } }), '/ipAddress/networkName', /is required/],
    ['ipAddress and networks disagree', ipApp({ ipAddress: { networkName: 'dcos' }, networks: [{ mode: 'container', name: 'other' }] }), '/ipAddress', /give one of them/],
    ['security groups', ipApp({ ipAddress: { networkName: 'dcos', groups: ['g1'] } }), '/ipAddress/groups', /not supported/],
    ['discovery port number', ipApp({ ipAddress: { networkName: 'dcos', discovery: { ports: [{ number: 0, name: 'x' }] } } }), '/ipAddress/discovery/ports/0/number', /minimum/],
    ['discovery port protocol', ipApp({ ipAddress: { networkName: 'dcos', discovery: { ports: [{ number: 80, protocol: 'sctp' }] } } }), '/ipAddress/discovery/ports/0/protocol', /tcp/],
  ];
  for (const [what, body, path, why] of rows) {
    const r = await h.api('/v2/apps', { body });
    t.equal(r.status, 422, `${what}: 422`);
    const detail = (r.body.details ?? []).find((d: { path: string }) => d.path === path);
    t.ok(detail, `${what}: names ${path} (got ${JSON.stringify(r.body)})`);
    t.match(detail?.errors.join('; '), why, `${what}: says why`);
  }
  t.equal((await h.api('/v2/apps/ipt')).status, 404, 'nothing stored');
  t.equal((await h.api('/v2/apps', { body: ipApp({ ipAddress: { networkName: 'dcos' } }) })).status, 201, 'the default network dcos is known');
  const toRed = await h.api('/v2/apps/ipt?force=true', { method: 'PUT', body: { ipAddress: { networkName: 'red' } } });
  t.equal(toRed.status, 422, 'a change to an unknown network is refused too');
  t.same((await h.api('/v2/apps/ipt')).body.app.networks, [{ mode: 'container', name: 'dcos' }], 'and changes nothing');
});

t.test('without the overlay no network is known', async (t) => {
  const h = await startMaster(t);
  const r = await h.api('/v2/apps', { body: ipApp({ ipAddress: { networkName: 'dcos' } }) });
  t.equal(r.status, 422);
  t.match(r.body.details[0], { path: '/ipAddress/networkName', errors: [/no virtual networks exist/] });
});
