/**
 * VIP metrics of the nftables driver on a real kernel, through the agent plugin, IPv4 and IPv6:
 * three "nodes" (namespaces) on a bridge; the client and the driver on n3; a VIP per family with a
 * live backend (n1), a closed port (n2: the kernel answers RST) and a blackholed address (a
 * neighbour entry nobody answers for: no SYN-ACK, SYNs retransmitted). `GET /net/v1/metrics` and
 * the Prometheus series show the dead backends' failures and the live one's connections and bytes.
 * Bytes come from conntrack accounting: a connection that ended from its destroy event (n3's closing
 * timeouts are shortened to 1 s so it happens within the test), a live one from a dump at read time.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Vip } from '../../../contracts/index.js';
import { bridgeNamespaces, createNetns, eventually, requireRoot, requireTools, spawnTracked, type Netns } from '../../../test/lib/index.js';
import { nativeNfnetlink } from '../../nft/netlink.js';
import { NftablesDriver } from '../../nft/driver.js';
import { dumpRequest, parseFlows } from '../ct-decode.js';
import { MARK_COUNTED } from '../nft-counters.js';
import { metricsAgent, sample } from './metrics-agent.js';

const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/${f}`, import.meta.url));
// Address plan: bridge 10.86.0.0/24 and fd86::/64; n1 = .1 (live), n2 = .2 (port closed),
// n3 = .3 (client, driver); .9 / ::9 blackholed. VIPs 11.0.0.1:80 and [fd01:c::1]:80 (the three
// backends); 11.0.0.2:81 and [fd01:c::2]:81 (the live backend only: the byte counts).
const PLAN = {
  4: { addr: (i: number) => `10.86.0.${i}`, vip: '11.0.0.1', vip2: '11.0.0.2', name: (a: string) => a, mac: '02:00:00:00:00:09' },
  6: { addr: (i: number) => `fd86::${i}`, vip: 'fd01:c::1', vip2: 'fd01:c::2', name: (a: string) => `[${a}]`, mac: '02:00:00:00:00:69' },
} as const;
const BPORT = 7000;
const N = 24;
/** conntrack timeouts of a closing TCP connection, shortened in n3 so a finished one is destroyed within seconds. */
const CLOSING = ['fin_wait', 'close_wait', 'last_ack', 'time_wait', 'close'].map((s) => `net.netfilter.nf_conntrack_tcp_timeout_${s}=1`);

t.test('nftables VIP metrics from the kernel', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node', 'sysctl');
  const nfnl = nativeNfnetlink();
  if (!nfnl) throw new Error('native module nfnetlink not built (npm run build): the nftables driver counts VIP bytes with it');
  const nodes = [await createNetns(t, 'n'), await createNetns(t, 'n'), await createNetns(t, 'n')];
  const [n1, , n3] = nodes as [Netns, Netns, Netns];
  await bridgeNamespaces(t, nodes, '10.86.0');
  for (const [i, ns] of nodes.entries()) await ns.ip('addr', 'add', `${PLAN[6].addr(i + 1)}/64`, 'dev', 'eth0', 'nodad');
  await n3.ip('route', 'add', 'default', 'dev', 'eth0');
  await n3.ip('-6', 'route', 'add', '::/0', 'dev', 'eth0');
  // The blackholes: without a neighbour entry, SYNs would wait on ARP/ND and never be retransmitted.
  for (const f of [4, 6] as const) await n3.ip('neigh', 'add', PLAN[f].addr(9), 'lladdr', PLAN[f].mac, 'dev', 'eth0', 'nud', 'permanent');
  await spawnTracked(t, 'ip', ['netns', 'exec', n1.name, 'node', fixture('server.mjs'), 'n1', String(BPORT)]).waitFor(/ready/);
  // A backend on the driver's node itself (n3), for clients elsewhere: the input path.
  await spawnTracked(t, 'ip', ['netns', 'exec', n3.name, 'node', fixture('server.mjs'), 'n3', String(BPORT + 1)]).waitFor(/ready/);

  const node = PLAN[4].addr(3);
  const agent = await metricsAgent(t, { plugin: { driver: 'nftables', nftables: { netns: n3.name } }, node, host: '127.0.0.1' });
  const registry = agent.registry;
  const get = () => agent.metrics();
  t.equal((await n3.exec('sysctl', ['-n', 'net.netfilter.nf_conntrack_acct'])).trim(), '1', 'conntrack accounting on in the driver\'s namespace');
  await n3.exec('sysctl', ['-qw', ...CLOSING]);
  /** The connections to `vip` conntrack has in n3 that the metrics table marked (a dump of our own, as the driver does). */
  const ctFd = nfnl.open(`/run/netns/${n3.name}`);
  t.teardown(() => nfnl.close(ctFd));
  let seq = 1;
  const flowsTo = (vip: string) => parseFlows(nfnl.dump(ctFd, dumpRequest(seq++, MARK_COUNTED), 5000)).filter((f) => f.vipIp === vip);

  const vips = ([4, 6] as const).map((f): Vip => ({
    key: `tcp/${PLAN[f].vip}:80`,
    ip: PLAN[f].vip,
    port: 80,
    protocol: 'tcp',
    name: '/web',
    framework: 'marathon',
    dns_name: 'web.marathon.l4lb.thisdcos.directory',
    backends: [1, 2, 9].map((i) => ({ ip: PLAN[f].addr(i), port: BPORT, weight: 1, task_id: `t${i}`, agent_id: 'a' })),
  }));
  const vips2 = ([4, 6] as const).map((f): Vip => ({
    key: `tcp/${PLAN[f].vip2}:81`,
    ip: PLAN[f].vip2,
    port: 81,
    protocol: 'tcp',
    backends: [{ ip: PLAN[f].addr(1), port: BPORT, weight: 1, task_id: 't1', agent_id: 'a' }],
  }));
  const local: Vip = { key: `tcp/11.0.0.3:82`, ip: '11.0.0.3', port: 82, protocol: 'tcp', backends: [{ ip: PLAN[4].addr(3), port: BPORT + 1, weight: 1, task_id: 't3', agent_id: 'a' }] };
  await agent.apply([...vips, ...vips2, local]);

  const before = await get();
  t.match(before, { node, driver: 'nftables', measures: { connections: true, failures: true, bytes: true, latency: false } });
  t.same(before.vips.flatMap((v) => v.backends.map((b) => [b.connections, b.failures, b.bytes])), new Array(9).fill([0, 0, 0]), 'every programmed backend is listed, at zero');

  for (const f of [4, 6] as const) {
    await t.test(`IPv${f}: the dead backends' failures, the live one's connections and bytes`, async (t) => {
      const P = PLAN[f];
      const vipName = `${P.name(P.vip)}:80/tcp`;
      const id = (i: number) => `${P.name(P.addr(i))}:${BPORT}`;
      const out = await n3.exec('node', [fixture('client.mjs'), 'tcp', P.vip, '80', String(N)], { timeoutMs: 120_000 });
      const { counts } = JSON.parse(out.trim().split('\n').pop()!) as { counts: Record<string, number> };
      const m = await get();
      const v = m.vips.find((x) => x.vip === vipName);
      t.match(v, { vip: vipName, name: 'web.marathon.l4lb.thisdcos.directory' });
      const by = new Map(v!.backends.map((b) => [b.backend, b]));
      const [live, closed, hole] = [by.get(id(1))!, by.get(id(2))!, by.get(id(9))!];
      t.equal(live.connections, counts.n1, `the live backend's connections are the client's answers (${JSON.stringify(counts)})`);
      t.equal(live.failures, 0, 'the live backend has no failures');
      // Each answered connection: SYN, SYN-ACK, ACK, the greeting, its ACK, FINs: at least 7 packets of 40+ bytes
      // (ended ones from their destroy events, the closing timeouts being 1 s here; others from the dump).
      t.ok(live.bytes! >= counts.n1! * 7 * 40, `the live backend has the bytes of every connection (${live.bytes} for ${counts.n1})`);
      t.ok(closed.connections! > 0 && closed.failures === closed.connections, `every connection to the closed port failed (RST): ${JSON.stringify(closed)}`);
      t.ok(hole.connections! > 0 && hole.failures === hole.connections, `every connection to the blackholed address failed (no SYN-ACK): ${JSON.stringify(hole)}`);
      // Never more than the client made: a SYN retransmit is not a new connection. (One fewer was seen once: a
      // blackholed attempt whose source port reused a conntrack entry still in SYN_SENT is not a new flow to the kernel.)
      const total = live.connections! + closed.connections! + hole.connections!;
      t.ok(total <= N && total >= N - 1, `each connection counted once (SYN retransmits are not new connections): ${total} of ${N}`);
      t.notOk('latency' in live, 'no latency from a kernel driver');

      const prom = await registry.metrics();
      const series = (name: string, b: string) => sample(prom, name, vipName, b);
      t.equal(series('sextant_l4lb_vip_connections_total', id(1)), live.connections, 'Prometheus: live connections');
      t.equal(series('sextant_l4lb_vip_failures_total', id(2)), closed.failures, 'Prometheus: closed port failures');
      t.equal(series('sextant_l4lb_vip_failures_total', id(9)), hole.failures, 'Prometheus: blackhole failures');
      t.ok(series('sextant_l4lb_vip_bytes_total', id(1)) >= live.bytes!, 'Prometheus: live bytes (read later: late FINs may add)');
      t.notMatch(prom, /sextant_l4lb_vip_connect_latency_seconds_bucket/, 'no latency series');
    });
  }

  for (const f of [4, 6] as const) {
    await t.test(`IPv${f}: bytes of a finished connection (destroy event) and of a still-open one (dump)`, async (t) => {
      const P = PLAN[f];
      const vipName = `${P.name(P.vip2)}:81/tcp`;
      const live = `${P.name(P.addr(1))}:${BPORT}`;
      const bytesNow = async () => (await get()).vips.find((v) => v.vip === vipName)!.backends.find((b) => b.backend === live)!.bytes!;
      t.equal(await bytesNow(), 0, 'nothing yet');

      // Finished: one connection, ended and destroyed by conntrack before any read of the metrics saw it live.
      const out = await n3.exec('node', [fixture('client.mjs'), 'tcp', P.vip2, '81', '1'], { timeoutMs: 30_000 });
      t.match(out, /"n1":1/, 'the connection was answered');
      // Our dumps evict connections whose (shortened) closing timeout ran out: conntrack then sends their destroy event.
      await eventually(() => flowsTo(P.vip2).length === 0, 20_000, 200, 'conntrack to destroy the finished connection');
      const finished = await eventually(async () => (await bytesNow()) || undefined, 5_000, 100, 'bytes from the destroy event');
      // SYN, SYN-ACK, ACK, the greeting and its ACK, FINs and their ACKs: at least 7 packets of 40+ bytes.
      t.ok(finished >= 7 * 40 && finished < 2000, `the finished connection's bytes come from its destroy event (${finished})`);

      // Still open: a held connection; 2,000 bytes each way through it; read while it is open.
      const hold = spawnTracked(t, 'ip', ['netns', 'exec', n3.name, 'node', fixture('client.mjs'), 'hold', P.vip2, '81'], { stdio: ['pipe', 'pipe', 'pipe'] });
      await hold.waitFor(/greeting n1/, 10_000);
      const line = 'x'.repeat(2000);
      hold.child.stdin!.write(`${line}\n`);
      await hold.waitFor(/echo x{2000}/, 10_000);
      const open = flowsTo(P.vip2);
      t.equal(open.length, 1, 'the held connection is live in conntrack');
      const during = await bytesNow();
      t.ok(during >= finished + 2 * 2001, `a live connection's bytes are counted while it is open (${finished} -> ${during})`);
      t.ok(during - finished < 2 * 2001 + 2000, `and only its own (${during - finished} bytes for 4,002 of payload)`);

      hold.kill();
      await hold.exited;
      await eventually(() => flowsTo(P.vip2).length === 0, 20_000, 200, 'conntrack to destroy the held connection');
      const after = await eventually(async () => {
        const b = await bytesNow();
        return b > during ? b : undefined;
      }, 5_000, 100, 'the FINs of the held connection from its destroy event');
      t.ok(after - during < 1000, `after it ended: its final count replaced the live one, not added to it (${during} -> ${after})`);
      t.equal(sample(await registry.metrics(), 'sextant_l4lb_vip_bytes_total', vipName, live), after, 'Prometheus: bytes');
    });
  }

  await t.test('a client on another node, the backend on the driver\'s node (prerouting, input)', async (t) => {
    await n1.ip('route', 'add', '11.0.0.3/32', 'via', PLAN[4].addr(3));
    const out = await n1.exec('node', [fixture('client.mjs'), 'tcp', '11.0.0.3', '82', '3'], { timeoutMs: 30_000 });
    t.match(out, /"n3":3/, 'answered by the local backend');
    const b = (await get()).vips.find((v) => v.vip === '11.0.0.3:82/tcp')!.backends[0]!;
    t.match(b, { backend: `${PLAN[4].addr(3)}:${BPORT + 1}`, connections: 3, failures: 0 }, 'each connection counted once (NAT input chain)');
    t.ok(b.bytes! >= 3 * 7 * 40, `their bytes (${b.bytes})`);
  });
});

t.test('conntrack accounting: on while the driver runs with metrics, back as found when it stops; off: untouched', async (t) => {
  requireRoot();
  requireTools('nft', 'sysctl');
  const ns = await createNetns(t, 'acct');
  const acct = async () => (await ns.exec('sysctl', ['-n', 'net.netfilter.nf_conntrack_acct'])).trim();
  const on = new NftablesDriver({ netns: ns.name, metrics: true, table: 'sx_acct' });
  await on.start();
  t.equal(await acct(), '1', 'metrics on: accounting on in the driver\'s namespace');
  t.equal((await on.netMetrics())?.measures.bytes, true, 'bytes measured');
  await on.stop();
  t.equal(await acct(), '0', 'stopped: accounting back to 0');
  const off = new NftablesDriver({ netns: ns.name, metrics: false, table: 'sx_acct' });
  await off.start();
  t.equal(await acct(), '0', 'metrics off: accounting left as it was');
  t.equal(await off.netMetrics(), undefined);
  await off.stop();
});
