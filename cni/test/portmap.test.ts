/**
 * Port mappings: a host port reaches the task from outside, from another task and from the task
 * itself (hairpin); traffic to VIP-like destinations on the same port is not captured, whether
 * routed elsewhere or made local (as IPVS does) and excluded.
 */
import t from 'tap';
import { requireNetns, requireTools, createNetns, uniqueName, type Netns } from '../../test/lib/index.js';
import { config, env, fetchText, netName, plugin, serve, tempDir } from './helpers.js';

requireNetns();
requireTools('ip', 'nft', 'nsenter');

const HOST_IP = '10.240.0.1';
const CLIENT_IP = '10.240.0.2';
const VIP_ROUTED = '11.0.0.5';
const VIP_LOCAL = '11.0.0.6';
const SUBNET = '10.234.0.0/24';

/** Link `a` and `b` with a veth: a gets `aIp`, b gets `bIp` and a default route via `aIp`. */
async function link(a: Netns, b: Netns, aIp: string, bIp: string): Promise<void> {
  const an = uniqueName('l').slice(-8);
  await a.ip('link', 'add', `a${an}`, 'type', 'veth', 'peer', 'name', 'up0', 'netns', b.name);
  await a.ip('addr', 'add', `${aIp}/24`, 'dev', `a${an}`);
  await a.ip('link', 'set', `a${an}`, 'up');
  await b.ip('addr', 'add', `${bIp}/24`, 'dev', 'up0');
  await b.ip('link', 'set', 'up0', 'up');
  await b.ip('route', 'add', 'default', 'via', aIp);
}

t.test('host ports reach the task; VIP traffic is not captured', async (t) => {
  const host = await createNetns(t, 'h');
  const client = await createNetns(t, 'c');
  const vip = await createNetns(t, 'v');
  await link(host, client, HOST_IP, CLIENT_IP);
  await link(host, vip, '10.241.0.1', '10.241.0.2');
  await vip.ip('addr', 'add', `${VIP_ROUTED}/32`, 'dev', 'lo');
  await host.ip('route', 'add', `${VIP_ROUTED}/32`, 'via', '10.241.0.2');
  await host.ip('addr', 'add', `${VIP_LOCAL}/32`, 'dev', 'lo');

  const dataDir = await tempDir(t);
  const mappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
  const conf = { ...config({ cniVersion: '1.1.0', name: netName(), dataDir, subnet: SUBNET }), portMapExclude: ['11.0.0.0/8'], runtimeConfig: { portMappings: mappings } };
  const task = await createNetns(t, 't');
  const other = await createNetns(t, 't');
  const cid = uniqueName('c');
  const added = await plugin(host, env('ADD', cid, task), conf);
  t.equal(added.code, 0, JSON.stringify(added.out));
  const otherAdd = await plugin(host, env('ADD', uniqueName('c'), other), { ...conf, runtimeConfig: {} });
  t.equal(otherAdd.code, 0);
  const taskIp = added.out.ips[0].address.split('/')[0];

  await serve(t, task, taskIp, 80, 'task');
  await serve(t, vip, VIP_ROUTED, 8080, 'vip');
  await serve(t, host, VIP_LOCAL, 8080, 'local-vip');

  const rows: [string, Netns, string, string][] = [
    ['client -> host port', client, HOST_IP, 'task'],
    ['other task -> host port', other, HOST_IP, 'task'],
    ['task -> its own host port (hairpin)', task, HOST_IP, 'task'],
    ['client -> routed VIP on the same port', client, VIP_ROUTED, 'vip'],
    ['client -> local (IPVS-style) VIP, excluded', client, VIP_LOCAL, 'local-vip'],
  ];
  for (const [what, from, dst, want] of rows) t.equal(await fetchText(from, dst, 8080), want, what);

  const withPrev = { ...conf, prevResult: added.out };
  t.equal((await plugin(host, env('CHECK', cid, task), withPrev)).code, 0, 'CHECK passes with the mapping');
  await host.exec('nft', ['flush', 'map', 'ip', 'sextant_cni_portmap', 'ports']);
  await host.exec('nft', ['flush', 'chain', 'ip', 'sextant_cni_portmap', (await host.exec('nft', ['list', 'table', 'ip', 'sextant_cni_portmap'])).match(/chain (\S+-[0-9a-f]{12})/)![1]!]);
  t.match((await plugin(host, env('CHECK', cid, task), withPrev)).out, { code: 101, msg: /port mappings/ }, 'CHECK fails after the rules were removed');
  t.equal((await plugin(host, env('ADD', cid, task), conf)).code, 0, 're-ADD restores');
  t.equal(await fetchText(client, HOST_IP, 8080), 'task', 'restored');

  t.equal((await plugin(host, env('DEL', cid, task), conf)).code, 0);
  t.equal(await fetchText(client, HOST_IP, 8080), '', 'DEL removed the mapping');
  t.notMatch(await host.exec('nft', ['list', 'table', 'ip', 'sextant_cni_portmap']), /dnat/, 'no DNAT rule left');
});

t.test('a host port already mapped by another task is refused', async (t) => {
  const host = await createNetns(t, 'h');
  const dataDir = await tempDir(t);
  const name = netName();
  const conf = { ...config({ cniVersion: '1.0.0', name, dataDir, subnet: SUBNET }), runtimeConfig: { portMappings: [{ hostPort: 9000, containerPort: 80 }] } };
  const a = await plugin(host, env('ADD', uniqueName('c'), await createNetns(t, 't')), conf);
  t.equal(a.code, 0);
  const b = await plugin(host, env('ADD', uniqueName('c'), await createNetns(t, 't')), conf);
  t.match(b.out, { code: 7, msg: /already mapped.*tcp\/9000/ });
  t.equal((await host.ip('-o', 'link', 'show', 'master', `m-${name}`)).split('\n').filter((l) => l.includes('sxv')).length, 1, 'refused ADD rolled back its veth');
});
