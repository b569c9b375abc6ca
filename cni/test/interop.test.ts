/**
 * Interoperability: the conflist the agent writes works with the standard `bridge` + `host-local`
 * plugins from /usr/lib/cni (our plugin chained after them for port mappings, accepting their
 * prevResult) and with ours; both can even share one host-local data dir without handing out an
 * address twice.
 */
import t from 'tap';
import { requireNetns, requireTools, createNetns, uniqueName } from '../../test/lib/index.js';
import { fetchText, netName, nsPath, serve, tempDir } from './helpers.js';
import { pluginBinDir } from './bundle.js';
import { CniRuntime } from '../runtime.js';
import { buildConflist } from '../conflist.js';

requireNetns();
requireTools('ip', 'nft', 'nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local');

const SUBNET = '10.235.0.0/25';
const GATEWAY = '10.235.0.1';

t.test('one network, standard and sextant plugins side by side', async (t) => {
  const { binDir } = await pluginBinDir(t);
  const host = await createNetns(t, 'h');
  const dataDir = await tempDir(t);
  const runtime = new CniRuntime({ binDirs: [binDir, '/usr/lib/cni'], cacheDir: await tempDir(t), netns: host.name });
  const name = netName();
  const spec = { name, subnet: SUBNET, mtu: 1420, dataDir };
  const lists = { standard: buildConflist({ ...spec, plugins: 'standard' }), sextant: buildConflist({ ...spec, plugins: 'sextant' }) };
  t.equal(lists.standard.plugins[0]!.type, 'bridge');
  t.equal(lists.standard.plugins[1]!.type, 'sextant-cni');
  const { portMapExclude: _e, capabilities: _c, ...ours } = lists.sextant.plugins[0]!;
  t.same({ ...lists.standard.plugins[0], type: 'x' }, { ...ours, type: 'x' }, 'same config apart from the type');

  // All three stay attached at once: the shared store must keep their addresses apart.
  let port = 8100;
  const live = [];
  for (const which of ['standard', 'sextant', 'standard'] as const) {
    const task = await createNetns(t, 't');
    const att = { containerId: uniqueName('c'), netns: nsPath(task), ifname: 'eth0', runtimeConfig: { portMappings: [{ hostPort: ++port, containerPort: 80, protocol: 'tcp' }] } };
    const r = await runtime.add(lists[which], att);
    t.match(r, { cniVersion: '1.0.0', ips: [{ address: /^10\.235\.0\.\d+\/25$/, gateway: GATEWAY }] }, `${which}: result`);
    live.push({ which, list: lists[which], task, att, port, ip: r.ips![0]!.address.split('/')[0]! });
  }
  t.equal(new Set(live.map((l) => l.ip)).size, 3, 'three distinct addresses from one shared store');
  for (const { which, list, task, att, port, ip } of live) {
    t.match(await task.ip('route', 'show', 'default'), `via ${GATEWAY}`, `${which}: default route via the bridge`);
    await serve(t, task, ip, 80, which);
    t.equal(await fetchText(host, ip, 80), which, `${which}: host reaches the task`);
    t.equal(await fetchText(task, GATEWAY, port), which, `${which}: host port mapping (hairpin via the gateway)`);
    await runtime.check(list, att);
    t.pass(`${which}: CHECK passes`);
  }
  for (const { which, list, task, att, port, ip } of live) {
    await runtime.del(list, att);
    await runtime.del(list, att);
    t.equal(await fetchText(host, ip, 80, 500), '', `${which}: gone after DEL (twice)`);
    t.equal(await fetchText(task, GATEWAY, port, 500), '', `${which}: mapping gone`);
  }
});
