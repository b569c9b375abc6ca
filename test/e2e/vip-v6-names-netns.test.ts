/**
 * Issue #26 (names over v6, VIPs): a named VIP of an app on a dual-stack network gets an IPv6
 * address; the agent's dispatcher answers `dig AAAA` for its name in l4lb.thisdcos.directory and a
 * TCP connection to that answer reaches the app through the nftables driver. The pieces are the
 * real ones, in one process: the master's VIP source (label -> allocation from the v6 range) and
 * zone records, the control-plane snapshot, the agent's L4lbReconciler (nftables in the node's
 * namespace) and the node DNS dispatcher. Address plan: node fd78::1 / 10.78.0.1, the task
 * fd78::2 / 10.78.0.2 on network "dual", port 7000; dispatcher on a loopback block's .1.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRegistry } from '../../common/metrics.js';
import type { Snapshot } from '../../contracts/index.js';
import { Dispatcher, parseDispatcherConfig } from '../../dns/index.js';
import { MemoryKvStore } from '../../master/index.js';
import { vipSource } from '../../l4lb/index.js';
import { L4lbReconciler } from '../../l4lb/reconciler.js';
import { NftablesDriver } from '../../l4lb/nft/driver.js';
import { zoneRecords } from '../../control/sources/zones.js';
import { bridgeNamespaces, createNetns, loopbackBlock, requireRoot, requireTools, spawnTracked } from '../lib/index.js';

const pexec = promisify(execFile);
const client = fileURLToPath(new URL('../../l4lb/test/fixtures/client.mjs', import.meta.url));
const server = fileURLToPath(new URL('../../l4lb/test/fixtures/server.mjs', import.meta.url));
const NAME = 'hello.marathon.l4lb.thisdcos.directory';

const state = {
  slaves: [{ id: 'a1', pid: 'slave(1)@10.78.0.1:5051' }],
  frameworks: [
    {
      name: 'marathon',
      tasks: [
        {
          id: 'hello.1',
          name: 'hello',
          slave_id: 'a1',
          state: 'TASK_RUNNING',
          statuses: [{ state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ name: 'dual', ip_addresses: [{ ip_address: '10.78.0.2' }, { protocol: 'IPv6', ip_address: 'fd78::2' }] }] } }],
          discovery: { ports: { ports: [{ number: 7000, protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '/hello:80' }] } }] } },
        },
      ],
    },
  ],
};

t.test('dig AAAA of a named v6 VIP through the dispatcher, then TCP to it', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'dig', 'node');
  const [node, task] = [await createNetns(t, 'node'), await createNetns(t, 'task')];
  await bridgeNamespaces(t, [node, task], '10.78.0');
  await node.exec('ip', ['-batch', '-'], { input: 'addr add fd78::1/64 dev eth0 nodad\nroute add default dev eth0\nroute add ::/0 dev eth0\n' });
  await task.ip('addr', 'add', 'fd78::2/64', 'dev', 'eth0', 'nodad');
  await spawnTracked(t, ...task.wrap('node', [server, 'hello', '7000'])).waitFor(/ready/);

  // Master side: the VIP source allocates, the zones follow the VIPs.
  const handle = { store: new MemoryKvStore(), state: () => state, onChange: () => () => undefined, routes: () => undefined } as never;
  const vips = await vipSource(handle).entries();
  const zones = zoneRecords(state, vips, []);
  const view = { history: 'h', version: 1, overlay: {} as never, parts: { vips, zones, networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } } as Snapshot;
  t.same(vips.map((v) => v.ip).sort(), ['11.0.0.1', 'fd01:c::1'], 'one named VIP per family');

  // Agent side: l4lb first, then the dispatcher publishes the names (the agent's order).
  const r = new L4lbReconciler({ driver: new NftablesDriver({ netns: node.name }), registry: createRegistry() });
  await r.start();
  t.teardown(() => r.stop());
  await r.apply(view);
  const ip = loopbackBlock();
  const d = new Dispatcher(parseDispatcherConfig({ bind_ips: [ip(1)], udp_port: 0, tcp_port: 0 }), { registry: createRegistry() });
  await d.start();
  t.teardown(() => d.stop());
  await d.snapshotConsumer().apply(view);
  const port = d.addresses().find((a) => a.transport === 'udp')!.port;

  const dig = async (type: string) => (await pexec('dig', [`@${ip(1)}`, '-p', String(port), '+short', '+time=2', '+tries=2', NAME, type])).stdout.trim();
  const aaaa = await dig('AAAA');
  t.equal(aaaa, 'fd01:c::1', `dig AAAA ${NAME} answers the v6 VIP`);
  t.equal(await dig('A'), '11.0.0.1', 'and A the v4 one');
  for (const addr of [aaaa, '11.0.0.1']) {
    const out = await node.exec('node', [client, 'tcp', addr, '80', '5'], { timeoutMs: 30_000 });
    t.same(JSON.parse(out.trim().split('\n').pop()!), { counts: { hello: 5 }, errors: 0 }, `TCP to [${addr}]:80 reaches the task from the node`);
  }
});
