/**
 * Two tasks of one node on one bridge, one the client of a VIP whose backend is the other: the
 * backend's reply is bridged straight back, so only br_netfilter (per namespace,
 * net.bridge.bridge-nf-call-iptables) lets conntrack undo the DNAT. The nftables driver needs it,
 * as kube-proxy does, and reports its state: a log line and `sextant_l4lb_bridge_netfilter`.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../common/clock.js';
import { createRegistry } from '../../common/metrics.js';
import type { Snapshot, Vip } from '../../contracts/index.js';
import { createNetns, requireRoot, requireTools, spawnTracked, type Netns } from '../../test/lib/index.js';
import { NftablesDriver, type BridgeNetfilter } from '../nft/driver.js';
import { sysctlReader } from '../nft/exec.js';
import { createLogger, type Logger } from '../../common/log.js';
import { L4lbReconciler } from '../reconciler.js';
import { l4lbMetrics } from '../metrics.js';

const fixture = (f: string) => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
// Bridge br0 in the node: gateway 10.66.0.1, client task .2, backend task .3; backend port 7000.
const [GW, CLIENT, BACKEND, VIP] = ['10.66.0.1', '10.66.0.2', '10.66.0.3', '11.0.6.1'];

const BRIDGE_NF = '/proc/sys/net/bridge/bridge-nf-call-iptables';

async function task(t: Parameters<typeof createNetns>[0], node: Netns, i: number, ip: string): Promise<Netns> {
  const ns = await createNetns(t, 'bt');
  await node.ip('link', 'add', `vt${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
  await node.ip('link', 'set', `vt${i}`, 'master', 'br0', 'up');
  await ns.ip('addr', 'add', `${ip}/24`, 'dev', 'eth0');
  await ns.ip('link', 'set', 'eth0', 'up');
  await ns.ip('link', 'set', 'lo', 'up');
  await ns.ip('route', 'add', 'default', 'via', GW);
  return ns;
}

t.test('a VIP client and its backend on one bridge: works with br_netfilter, reported when it is off', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node');
  const node = await createNetns(t, 'bn');
  if ((await node.exec('sh', ['-c', `cat ${BRIDGE_NF} 2>/dev/null || echo missing`])).trim() === 'missing') {
    // The whole test is skipped (1..0 # SKIP), naming what is missing.
    t.plan(0, `br_netfilter is not loaded on this kernel (no ${BRIDGE_NF}; modprobe br_netfilter): the driver reports that case as "missing"`);
    return;
  }
  await node.ip('link', 'add', 'br0', 'type', 'bridge');
  await node.ip('addr', 'add', `${GW}/24`, 'dev', 'br0');
  await node.ip('link', 'set', 'br0', 'up');
  await node.ip('link', 'set', 'lo', 'up');
  await node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']);
  const client = await task(t, node, 1, CLIENT);
  const backend = await task(t, node, 2, BACKEND);
  await spawnTracked(t, 'ip', ['netns', 'exec', backend.name, 'node', fixture('server.mjs'), 'b', '7000']).waitFor(/ready/);

  const registry = createRegistry();
  const metrics = l4lbMetrics(registry);
  const seen: BridgeNetfilter[] = [];
  const driver = new NftablesDriver({
    netns: node.name,
    onBridgeNetfilter: (s) => {
      seen.push(s);
      metrics.bridgeNetfilter.set(s === 'on' ? 1 : 0);
    },
  });
  const clock = new FakeClock();
  const r = new L4lbReconciler({ driver, registry, clock });
  await r.start();
  t.teardown(() => r.stop());
  const vip: Vip = { key: `tcp/${VIP}:80`, ip: VIP, port: 80, protocol: 'tcp', backends: [{ ip: BACKEND, port: 7000, weight: 1, task_id: 'b', agent_id: 'n' }] };
  await r.apply({ history: 'h', version: 1, overlay: {} as never, parts: { vips: [vip], zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] } } as Snapshot);
  const gauge = async () => (await registry.getSingleMetric('sextant_l4lb_bridge_netfilter')!.get()).values[0]?.value;
  const connect = async () => JSON.parse((await client.exec('node', [fixture('client.mjs'), 'tcp', VIP, '80', '3'], { timeoutMs: 30_000 })).trim().split('\n').pop()!) as { counts: Record<string, number>; errors: number };

  t.same(seen, ['on'], 'the first reconcile reads the sysctl in the node namespace');
  t.equal(await gauge(), 1);
  t.same(await connect(), { counts: { b: 3 }, errors: 0 }, 'the bridged reply is un-DNATed: connections work');

  await node.exec('sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=0']);
  await r.reconcileNow();
  t.same(seen, ['on', 'off'], 'the next full reconcile sees it turned off');
  t.equal(await gauge(), 0, 'and the gauge says so');
  const off = await connect();
  t.equal(off.errors, 3, `without it the reply comes from the backend's own address and no connection works: ${JSON.stringify(off)}`);

  await node.exec('sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']);
  await r.reconcileNow();
  t.same(seen, ['on', 'off', 'on'], 'reported again once it is back');
  t.same(await connect(), { counts: { b: 3 }, errors: 0 });
});

t.test('the state comes from the injected sysctl reader: missing when br_netfilter is not loaded', async (t) => {
  const states: BridgeNetfilter[] = [];
  let value: string | undefined;
  // A fake nft: the table is never there (every reconcile recreates it), writes succeed.
  const run = async (args: string[]) => {
    if (args.includes('list')) throw new Error('Error: No such file or directory');
    return '';
  };
  const d = new NftablesDriver({ run, sysctl: async () => value, onBridgeNetfilter: (s) => states.push(s) });
  await d.reconcile([]);
  value = '0';
  await d.reconcile([]);
  await d.reconcile([]);
  value = '1';
  await d.reconcile([]);
  t.same(states, ['missing', 'off', 'on'], 'told on change only');
  t.equal(d.bridgeNetfilter, 'on');
});

t.test('a sysctl that cannot be read is not "missing": the last state stays, the error is logged once, the reconcile stands', async (t) => {
  const states: BridgeNetfilter[] = [];
  const warned: string[] = [];
  let read: () => string | undefined = () => '1';
  const run = async (args: string[]) => {
    if (args.includes('list')) throw new Error('Error: No such file or directory');
    return '';
  };
  const log = createLogger('l4lb').child({});
  const logger: Logger = { ...log, warn: (event, f) => void warned.push(`${event} ${String(f?.error ?? '')}`), child: () => logger };
  const d = new NftablesDriver({ run, log: logger, sysctl: async () => read(), onBridgeNetfilter: (s) => states.push(s) });
  await d.reconcile([]);
  read = () => {
    throw new Error('ip netns exec gone: No such namespace');
  };
  await d.reconcile([]);
  await d.reconcile([]);
  t.same(states, ['on'], 'no change reported while it cannot be read');
  t.equal(d.bridgeNetfilter, 'on', 'the last known state stays');
  t.same(warned, ['nft_bridge_netfilter_unknown ip netns exec gone: No such namespace'], 'said once, with the reason');
  read = () => undefined;
  await d.reconcile([]);
  t.same(states, ['on', 'missing'], 'a read that works again reports the real state');
});

t.test('sysctlReader: a value, undefined for a key that does not exist, an error naming the key when the namespace is gone', async (t) => {
  requireRoot();
  const ns = await createNetns(t, 'sy');
  const inNs = sysctlReader({ netns: ns.name });
  await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_default_ttl=77']);
  t.equal(await inNs('net.ipv4.ip_default_ttl'), '77', "read inside the namespace, not the host's");
  t.equal(await inNs('net.ipv4.no_such_key'), undefined, 'no such key: undefined');
  t.equal(await sysctlReader()('net.ipv4.no_such_key'), undefined, 'same without a namespace');
  t.match(await sysctlReader()('net.ipv4.ip_forward'), /^[01]$/);
  await t.rejects(sysctlReader({ netns: `${ns.name}-gone` })('net.ipv4.ip_forward'), /cannot read sysctl net\.ipv4\.ip_forward: ip netns exec .*-gone cat .* failed/, 'a namespace that does not exist is an error, not "missing"');
});
