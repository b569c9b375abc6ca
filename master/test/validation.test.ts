/**
 * Validation at the door (issue #24), per API, on a real master over HTTP: every bad row answers
 * 422 in Marathon's shape naming the field and the rule, and the store is byte-for-byte the same
 * afterwards (nothing stored, so nothing can reach the control plane). The overlay's network API
 * runs on the same master, as `sextant master` mounts it.
 */
import t, { type Test } from 'tap';
import { requestJson } from '../../common/index.js';
import { OverlayMaster } from '../../overlay/index.js';
import { startMaster, type Harness } from './harness.js';

type Row = [what: string, method: string, path: string, body: unknown, field: string, rule: RegExp];

const app = (extra: Record<string, unknown>) => ({ id: '/bad', cmd: 'sleep 100', instances: 1, cpus: 0.1, mem: 16, ...extra });
const vip = (value: string, key = 'VIP_0') => app({ portDefinitions: [{ port: 0, labels: { [key]: value } }] });

const short = (v: unknown) => JSON.stringify(v)?.slice(0, 200);

async function dump(h: Harness): Promise<string> {
  return JSON.stringify(await h.master.store.list(''));
}

/** Each row: 422, `Object is not valid`, a detail at `field` whose errors match `rule`; store unchanged. */
async function expectRows(t: Test, h: Harness, base: string, rows: Row[]): Promise<void> {
  const before = await dump(h);
  for (const [what, method, path, body, field, rule] of rows) {
    const r = await requestJson(`http://${base}${path}`, { method, body });
    t.equal(r.status, 422, `${what}: 422`);
    const b = r.body as { message?: string; details?: { path: string; errors: string[] }[] };
    t.equal(b.message, 'Object is not valid', `${what}: Marathon's message`);
    const d = b.details?.find((x) => x.path === field);
    t.ok(d, `${what}: details name ${field.slice(0, 60)} (got ${short(b.details)})`);
    t.ok(d?.errors.some((e) => rule.test(e)), `${what}: the error says ${rule} (got ${short(d?.errors)})`);
  }
  t.equal(await dump(h), before, 'the store is unchanged');
}

t.test('Marathon apps: POST, PUT and PATCH', async (t) => {
  const h = await startMaster(t);
  t.equal((await h.api('/v2/apps', { body: app({ id: '/web' }) })).status, 201, 'a good app is created');
  const master = h.master.ip;
  const rows: Row[] = [
    ['VIP on loopback (sshd)', 'POST', '/v2/apps', vip('127.0.0.1:22'), '/portDefinitions/0/labels/VIP_0', /127\.0\.0\.1 is loopback.*ownership/],
    ["VIP on the master's own IP:8123", 'POST', '/v2/apps', vip(`${master}:8123`), '/portDefinitions/0/labels/VIP_0', /is loopback|belongs to the master/],
    ['VIP outside the VIP ranges', 'POST', '/v2/apps', vip('8.8.8.8:53'), '/portDefinitions/0/labels/VIP_0', /outside the VIP ranges \(11\.0\.0\.0\/8/],
    ['VIP on link-local', 'POST', '/v2/apps', vip('169.254.169.254:80'), '/portDefinitions/0/labels/VIP_0', /link-local/],
    ['VIP on multicast', 'POST', '/v2/apps', vip('224.0.0.251:5353'), '/portDefinitions/0/labels/VIP_0', /multicast/],
    ['VIP on IPv6 loopback', 'POST', '/v2/apps', vip('[::1]:80'), '/portDefinitions/0/labels/VIP_0', /::1 is loopback/],
    ['VIP on IPv6 link-local', 'POST', '/v2/apps', vip('[fe80::1]:80'), '/portDefinitions/0/labels/VIP_0', /fe80::1 is link-local \(fe80::\/10\)/],
    ['VIP on IPv6 multicast', 'POST', '/v2/apps', vip('[ff02::fb]:5353'), '/portDefinitions/0/labels/VIP_0', /ff02::fb is multicast \(ff00::\/8\)/],
    ['VIP outside the IPv6 VIP range', 'POST', '/v2/apps', vip('[fd03::1]:80'), '/portDefinitions/0/labels/VIP_0', /fd03::1 is outside the VIP ranges \(11\.0\.0\.0\/8, fd01:c::\/64/],
    ['VIP with a bad IPv6 literal', 'POST', '/v2/apps', vip('[fd01:c::g]:80'), '/portDefinitions/0/labels/VIP_0', /not a valid IP address/],
    ['VIP garbage', 'POST', '/v2/apps', vip('garbage'), '/portDefinitions/0/labels/VIP_0', /expected "\/name:port" or "ip:port" \(VIP label\)/],
    ['VIP port 70000', 'POST', '/v2/apps', vip('/web:70000'), '/portDefinitions/0/labels/VIP_0', /out of range 1-65535/],
    ['VIP without a name', 'POST', '/v2/apps', vip(':70000'), '/portDefinitions/0/labels/VIP_0', /VIP label/],
    ['VIP port 0', 'POST', '/v2/apps', vip('/web:0'), '/portDefinitions/0/labels/VIP_0', /port 0 is out of range/],
    ['VIP path traversal', 'POST', '/v2/apps', vip('/../../x:80'), '/portDefinitions/0/labels/VIP_0', /not allowed in a DNS label/],
    ['VIP_PORT task label on loopback', 'POST', '/v2/apps', app({ labels: { VIP_PORT0: 'tcp://127.0.0.2:80' } }), '/labels/VIP_PORT0', /loopback/],
    ['VIP_PORT names a missing port', 'POST', '/v2/apps', app({ portDefinitions: [], labels: { VIP_PORT3: 'tcp://web:80' } }), '/labels/VIP_PORT3', /names port 3 but the app has 0/],
    ['portMapping VIP on loopback', 'POST', '/v2/apps', app({ networks: [{ mode: 'container/bridge' }], container: { type: 'MESOS', portMappings: [{ containerPort: 80, labels: { VIP_0: '127.0.0.1:80' } }] } }), '/container/portMappings/0/labels/VIP_0', /loopback/],
    ['instances 1e9', 'POST', '/v2/apps', app({ instances: 1e9 }), '/instances', /maximum 1000, set by SEXTANT_MAX_INSTANCES_PER_APP/],
    ['101 ports', 'POST', '/v2/apps', app({ portDefinitions: Array.from({ length: 101 }, () => ({ port: 0 })) }), '/portDefinitions', /101 items.*maxItems 100, set by SEXTANT_MAX_PORTS_PER_APP/],
    ['label key of 256 characters', 'POST', '/v2/apps', app({ labels: { ['k'.repeat(256)]: 'v' } }), `/labels/${'k'.repeat(256)}`, /maxLength 255, set by SEXTANT_MAX_LABEL_KEY_LENGTH/],
    ['label value of 4097 characters', 'POST', '/v2/apps', app({ labels: { team: 'v'.repeat(4097) } }), '/labels/team', /maxLength 4096, set by SEXTANT_MAX_LABEL_VALUE_LENGTH/],
    ['101 env entries', 'POST', '/v2/apps', app({ env: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`E${i}`, 'x'])) }), '/env', /maxProperties 100, set by SEXTANT_MAX_LABELS/],
    ['id segment of 256 characters', 'POST', '/v2/apps', app({ id: `/${'a'.repeat(256)}` }), '/id', /more than 255 .*SEXTANT_MAX_ID_SEGMENT_LENGTH/],
    ['instances as a string', 'POST', '/v2/apps', app({ instances: 'many' }), '/instances', /expected integer \(type\)/],
    ['not an object', 'POST', '/v2/apps', [1, 2], '/', /expected object \(type\)/],
    ['PUT with a VIP on loopback', 'PUT', '/v2/apps/web', { portDefinitions: [{ port: 0, labels: { VIP_0: '127.0.0.1:22' } }] }, '/portDefinitions/0/labels/VIP_0', /loopback/],
    ['PUT instances 1e9', 'PUT', '/v2/apps/web', { instances: 1e9 }, '/instances', /maximum 1000/],
    ['PATCH with a bad VIP', 'PATCH', '/v2/apps/web', { portDefinitions: [{ port: 0, labels: { VIP_0: 'garbage' } }] }, '/portDefinitions/0/labels/VIP_0', /VIP label/],
    ['PUT creating an app with a bad VIP', 'PUT', '/v2/apps/other', vip('0.0.0.0:80'), '/portDefinitions/0/labels/VIP_0', /"this network"/],
  ];
  await expectRows(t, h, h.marathon, rows);
  t.same([...h.master.marathon.apps.keys()], ['/web'], 'only the good app exists');
  t.equal((await h.api('/v2/apps', { body: vip('11.1.2.3:80') })).status, 201, 'a literal VIP inside the VIP range is accepted');
  t.equal((await h.api('/v2/apps', { body: { ...vip('[fd01:c::10]:80'), id: '/v6' } })).status, 201, 'a literal IPv6 VIP inside the v6 VIP range is accepted');
});

t.test('bounds on apps and on rules per network', async (t) => {
  const h = await startMaster(t, { limits: { apps: 1, rulesPerNetwork: 1, networks: 3 } });
  const overlay = new OverlayMaster(h.master);
  await overlay.start();
  t.teardown(() => overlay.stop());
  t.equal((await h.api('/v2/apps', { body: app({ id: '/one' }) })).status, 201);
  const net = (name: string, subnet: string) => requestJson(`http://${h.mesos}/v1/networks`, { body: { name, subnet } });
  t.equal((await net('hr', '10.10.0.0/16')).status, 201);
  t.equal((await net('it', '10.20.0.0/16')).status, 201);
  t.equal((await requestJson(`http://${h.mesos}/v1/networks/isolation`, { body: { from: 'hr', to: 'it', ports: [80] } })).status, 201);
  await expectRows(t, h, h.marathon, [['a second app over maxApps 1', 'POST', '/v2/apps', app({ id: '/two' }), '/id', /has 1 apps.*maxApps 1, set by SEXTANT_MAX_APPS/]]);
  await expectRows(t, h, h.mesos, [
    ['a second rule naming hr', 'POST', '/v1/networks/isolation', { from: 'hr', to: 'it', ports: [443] }, 'from', /named by 1 rules.*maxRulesPerNetwork 1/],
    ['a fourth network', 'POST', '/v1/networks', { name: 'ops', subnet: '10.30.0.0/16' }, 'name', /3 networks exist.*maxNetworks 3/],
  ]);
});

t.test('networks and isolation rules', async (t) => {
  const h = await startMaster(t);
  const overlay = new OverlayMaster(h.master);
  await overlay.start();
  t.teardown(() => overlay.stop());
  await h.agent(2);
  const agentIp = h.ip(2);
  const rows: Row[] = [
    ['loopback network', 'POST', '/v1/networks', { name: 'lo', subnet: '127.0.0.0/8' }, 'subnet', /overlaps loopback \(127\.0\.0\.0\/8\)/],
    ["network over the agents' loopback /16", 'POST', '/v1/networks', { name: 'lo2', subnet: `${agentIp.split('.').slice(0, 2).join('.')}.0.0/16` }, 'subnet', /overlaps loopback/],
    ['network in the VIP range', 'POST', '/v1/networks', { name: 'vips', subnet: '11.0.0.0/16' }, 'subnet', /overlaps the VIP range 11\.0\.0\.0\/8/],
    ['link-local network', 'POST', '/v1/networks', { name: 'll', subnet: '169.254.0.0/16' }, 'subnet', /link-local/],
    ['multicast network', 'POST', '/v1/networks', { name: 'mc', subnet: '224.0.0.0/8' }, 'subnet', /multicast/],
    ['IPv6 link-local network', 'POST', '/v1/networks', { name: 'll6', subnet: '10.50.0.0/16', subnet6: 'fe80::/64' }, 'subnet6', /link-local/],
    ['IPv6 network in the VIP range', 'POST', '/v1/networks', { name: 'v6', subnet: '10.51.0.0/16', subnet6: 'fd01:c::/64', prefix6: 80 }, 'subnet6', /VIP range fd01:c::\/64/],
    ['network overlapping dcos', 'POST', '/v1/networks', { name: 'hr', subnet: '9.1.0.0/16' }, 'subnet', /overlaps network "dcos"/],
    ['unknown field', 'POST', '/v1/networks', { name: 'x', subnet: '10.60.0.0/16', vni: 5 }, 'vni', /additionalProperties/],
    ['name with a slash', 'POST', '/v1/networks', { name: '../x', subnet: '10.60.0.0/16' }, 'name', /pattern/],
    ['subnet as a number', 'POST', '/v1/networks', { name: 'x', subnet: 10 }, 'subnet', /expected string \(type\)/],
    ['rule to an unknown network', 'POST', '/v1/networks/isolation', { from: 'dcos', to: 'nope' }, 'to', /unknown network "nope"/],
    ['rule with port 70000', 'POST', '/v1/networks/isolation', { from: 'dcos', to: 'dcos', ports: [70000] }, 'ports[0]', /anyOf|maximum/],
    ['rule with a deny action', 'POST', '/v1/networks/isolation', { from: 'dcos', to: 'dcos', action: 'deny' }, 'action', /enum/],
    ['policy with a bad default', 'POST', '/v1/networks/isolation', { network: 'dcos', default: 'maybe' }, 'default', /enum/],
  ];
  await expectRows(t, h, h.mesos, rows);
  t.same([...overlay.allocator.networks.keys()], ['dcos'], 'only the default network exists');
});

t.test('agent protocol: register, heartbeat, status', async (t) => {
  const h = await startMaster(t, { limits: { tasksPerAgent: 2 } });
  await h.agent(2);
  const reg = (extra: Record<string, unknown>) => ({ ip: h.ip(3), port: 5051, resources: { cpus: 1, mem: 64 }, ...extra });
  const report = (i: number) => ({ task_id: `t${i}`, framework_id: 'f', state: 'TASK_RUNNING', timestamp: 1 });
  const rows: Row[] = [
    ['agent IP in the VIP range', 'POST', '/api/v1/agents/register', reg({ ip: '11.0.0.5' }), '/ip', /inside the VIP range 11\.0\.0\.0\/8/],
    ['agent IP multicast', 'POST', '/api/v1/agents/register', reg({ ip: '239.1.1.1' }), '/ip', /multicast/],
    ['agent IP not an IP', 'POST', '/api/v1/agents/register', reg({ ip: 'not-an-ip' }), '/ip', /format/],
    ['agent port 0', 'POST', '/api/v1/agents/register', reg({ port: 0 }), '/port', /minimum 1/],
    ['more tasks than tasksPerAgent', 'POST', '/api/v1/agents/register', reg({ tasks: [report(1), report(2), report(3)] }), '/tasks', /maxItems 2, set by SEXTANT_MAX_TASKS_PER_AGENT/],
    ['resources missing', 'POST', '/api/v1/agents/register', { ip: h.ip(3), port: 5051 }, '/resources', /required/],
    ['heartbeat without agent_id', 'POST', '/api/v1/agents/heartbeat', {}, '/agent_id', /required/],
    ['status with an unknown state', 'POST', '/api/v1/agents/status', { ...report(1), agent_id: 'a', uuid: 'u', state: 'TASK_BOGUS' }, '/state', /enum/],
    ['status with a bad container IP', 'POST', '/api/v1/agents/status', { ...report(1), agent_id: 'a', uuid: 'u', container_status: { network_infos: [{ ip_addresses: [{ ip_address: 'x' }] }] } }, '/container_status/network_infos/0/ip_addresses/0/ip_address', /format/],
  ];
  await expectRows(t, h, h.mesos, rows);
  t.equal((await h.state()).slaves.length, 1, 'no agent was added');
});

t.test('GET /openapi.json on the Mesos and Marathon ports, built from the schemas', async (t) => {
  const h = await startMaster(t);
  const overlay = new OverlayMaster(h.master);
  await overlay.start();
  t.teardown(() => overlay.stop());
  const mesos = (await requestJson(`http://${h.mesos}/openapi.json`)).body as any;
  t.equal(mesos.openapi, '3.1.0');
  t.equal(mesos.paths['/api/v1/agents/register'].post.requestBody.content['application/json'].schema.title, 'RegisterRequest');
  t.equal(mesos.paths['/v1/networks'].post.requestBody.content['application/json'].schema.title, 'VirtualNetwork');
  t.ok(mesos.paths['/v1/networks/isolation'].post.responses['422'], 'documents the 422');
  const marathon = (await h.api('/openapi.json')).body as any;
  const post = marathon.paths['/v2/apps'].post.requestBody.content['application/json'].schema;
  t.equal(post.title, 'AppDefinition');
  t.equal(post.properties.instances.maximum, 1000, 'the bound in force');
  t.equal(marathon.paths['/v2/apps/{id}'].patch.requestBody.content['application/json'].schema.title, 'AppUpdate');
});
