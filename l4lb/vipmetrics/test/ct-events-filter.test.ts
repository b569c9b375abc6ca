/**
 * The conntrack event filter on a real kernel (issue #28): the nftables driver with metrics in a
 * namespace (n2: the client and the driver; n1: the backend, across a bridge), many connections
 * that are not to a VIP and a few that are. A conntrack flush then sends every connection's
 * destroy event at once (the garbage collector would send the same events over seconds). The
 * agent's event socket (ConntrackBytes with its default filter) reads only the VIP connections'
 * events; an unfiltered socket beside it reads them all (so they were sent); both sum the same
 * bytes, and so does the driver's own reader. A filter the kernel refuses: the socket still opens
 * unfiltered, reads everything, and NftCounters says so once in the log.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Logger, LogFields } from '../../../common/log.js';
import { bridgeNamespaces, createNetns, requireRoot, requireTools, spawnTracked, type Netns } from '../../../test/lib/index.js';
import { NftablesDriver } from '../../nft/driver.js';
import { nftRunner, sysctlReader, sysctlWriter } from '../../nft/exec.js';
import { nativeNfnetlink } from '../../nft/netlink.js';
import { ConntrackBytes, flowKey } from '../ct-bytes.js';
import { flushRequest, parseFlows } from '../ct-decode.js';
import { encodeFilter } from '../ct-filter.js';
import { MARK_COUNTED, NftCounters } from '../nft-counters.js';

const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/${f}`, import.meta.url));
// Bridge 10.87.0.0/24: n1 = .1 (backend), n2 = .2 (client, driver); VIP 11.0.0.1:80 -> 10.87.0.1:7000.
const BACKEND = { ip: '10.87.0.1', port: 7000 };
const VIP = '11.0.0.1';
const NON_VIP = 400;
const VIP_CONNS = 5;
/** A program the kernel refuses (its jump leaves the program). */
const BAD_FILTER = encodeFilter([
  { code: 0x15, jt: 7, jf: 0, k: 0 },
  { code: 0x06, jt: 0, jf: 0, k: 0 },
]);

function recordingLog(): Logger & { events: string[] } {
  const events: string[] = [];
  const log = {
    events,
    debug: () => undefined,
    info: () => undefined,
    warn: (e: string, _f?: LogFields) => void events.push(e),
    error: (e: string) => void events.push(e),
    child: () => log,
  };
  return log;
}

t.test('the agent reads only the VIP connections\' destroy events; bytes unchanged', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node', 'sysctl');
  const nfnl = nativeNfnetlink();
  if (!nfnl) throw new Error('native module nfnetlink not built (npm run build): the nftables driver reads conntrack events with it');
  const [n1, n2] = [await createNetns(t, 'n'), await createNetns(t, 'n')] as [Netns, Netns];
  await bridgeNamespaces(t, [n1, n2], '10.87.0');
  await n2.ip('route', 'add', 'default', 'dev', 'eth0');
  await spawnTracked(t, 'ip', ['netns', 'exec', n1.name, 'node', fixture('server.mjs'), 'n1', String(BACKEND.port)]).waitFor(/ready/);
  const nsPath = `/run/netns/${n2.name}`;

  const driver = new NftablesDriver({ netns: n2.name, metrics: true });
  await driver.start();
  t.teardown(() => driver.stop());
  const services = [{ key: `tcp/${VIP}:80`, vip: VIP, port: 80, protocol: 'tcp' as const, backends: [{ ...BACKEND, weight: 1 }] }];
  await driver.apply(services);

  // Long drain periods: the test drains when it counts.
  const filtered = ConntrackBytes.open({ nsPath, mark: MARK_COUNTED, drainMs: 3_600_000 });
  t.teardown(() => filtered.close());
  const all = ConntrackBytes.open({ nsPath, mark: MARK_COUNTED, drainMs: 3_600_000, eventFilter: false });
  t.teardown(() => all.close());
  t.equal(filtered.filtered, true, 'the agent\'s event socket has the filter');
  t.equal(all.filtered, false, 'the comparison socket has none');

  const run = async (host: string, port: number, n: number, mode = 'tcp') =>
    JSON.parse((await n2.exec('node', [fixture('client.mjs'), mode, host, String(port), String(n)], { timeoutMs: 300_000 })).trim().split('\n').pop()!) as { counts: Record<string, number> };
  t.equal((await run(BACKEND.ip, BACKEND.port, NON_VIP)).counts.n1, NON_VIP, `${NON_VIP} TCP connections straight to the backend (no VIP)`);
  t.equal((await run(BACKEND.ip, BACKEND.port, 50, 'udp')).counts.n1, 50, 'and 50 UDP flows');
  t.equal((await run(VIP, 80, VIP_CONNS)).counts.n1, VIP_CONNS, `${VIP_CONNS} connections through the VIP`);

  // Every connection of n2 ends now: its destroy event is sent to both sockets, or filtered out.
  const ctl = nfnl.open(nsPath);
  t.teardown(() => nfnl.close(ctl));
  const errors: number[] = [];
  const ack = nfnl.batch(ctl, flushRequest(1));
  parseFlows(ack, errors);
  t.ok(ack.length > 0 && errors.length === 0, 'conntrack flushed (acknowledged)');
  filtered.drain();
  all.drain();
  t.ok(all.eventsRead >= NON_VIP + 50 + VIP_CONNS, `unfiltered: every connection's event (${all.eventsRead})`);
  t.equal(filtered.eventsRead, VIP_CONNS, `filtered: only the VIP connections' events (${filtered.eventsRead} of ${all.eventsRead})`);

  const key = flowKey(VIP, 'tcp', `${BACKEND.ip}:${BACKEND.port}`);
  const bytes = filtered.read().get(key) ?? 0;
  t.ok(bytes >= VIP_CONNS * 7 * 40, `the VIP connections' bytes (${bytes}: at least 7 packets of 40 bytes each)`);
  t.equal(all.read().get(key), bytes, 'the same bytes as read from every event');
  t.same([...filtered.read().keys()], [key], 'no other flow counted');
  const m = await driver.netMetrics();
  const b = m?.vips.find((v) => v.vip === `${VIP}:80/tcp`)?.backends[0];
  t.match(b, { backend: `${BACKEND.ip}:${BACKEND.port}`, connections: VIP_CONNS, bytes }, 'the driver\'s reader (filtered too): the same bytes');
});

t.test('a filter the kernel refuses: unfiltered, said once', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node', 'sysctl');
  const nfnl = nativeNfnetlink();
  if (!nfnl) throw new Error('native module nfnetlink not built (npm run build)');
  const ns = await createNetns(t, 'f');
  const nsPath = `/run/netns/${ns.name}`;
  t.throws(() => nfnl.open(nsPath, 4, 1 << 20, BAD_FILTER), /SO_ATTACH_FILTER/, 'the kernel refuses the program');
  t.throws(() => nfnl.open(nsPath, 4, 1 << 20, Buffer.alloc(5)), /filter must be a Buffer of 1 to 4096 struct sock_filter/, 'bytes that are not instructions: refused before the kernel');

  const reasons: string[] = [];
  const ct = ConntrackBytes.open({ nsPath, mark: MARK_COUNTED, drainMs: 3_600_000, eventFilter: BAD_FILTER, onFilterOff: (r) => reasons.push(r) });
  t.teardown(() => ct.close());
  t.equal(ct.filtered, false, 'opened without the filter');
  t.match(reasons, [/SO_ATTACH_FILTER/], 'told why, once');

  // The metrics table's reader: the same fallback, in the log once however often it is installed.
  const log = recordingLog();
  const counters = new NftCounters(nftRunner({ netns: ns.name }), 'sx_ctf', {
    log,
    conntrack: { nsPath, eventFilter: BAD_FILTER, sysctl: { read: sysctlReader({ netns: ns.name }), write: sysctlWriter({ netns: ns.name }) } },
  });
  t.teardown(() => counters.remove());
  await counters.install();
  await counters.install();
  t.same(log.events.filter((e) => e === 'vip_metrics_conntrack_filter_off'), ['vip_metrics_conntrack_filter_off'], 'said once in the log');
  t.equal((await counters.read([])).measures.bytes, true, 'bytes still measured');
  // The socket reads what the filter would have dropped: unmarked connections' events (conntrack
  // tracks in this namespace now: the metrics table's ct expressions).
  await spawnTracked(t, 'ip', ['netns', 'exec', ns.name, 'node', fixture('server.mjs'), 's', '7000']).waitFor(/ready/);
  await ns.exec('node', [fixture('client.mjs'), 'tcp', '127.0.0.1', '7000', '3'], { timeoutMs: 60_000 });
  const ctl = nfnl.open(nsPath);
  t.teardown(() => nfnl.close(ctl));
  nfnl.batch(ctl, flushRequest(1));
  ct.drain();
  t.ok(ct.eventsRead >= 3, `every event read (${ct.eventsRead})`);
});
