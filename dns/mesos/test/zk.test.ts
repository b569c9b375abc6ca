// Leader detection through a real ZooKeeper: zk down at start, leader changes seen through the
// watch (no poll), malformed znodes skipped, zk killed (old records kept), and the CLI zk-only.
import t from 'tap';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../../common/metrics.js';
import type { Logger, LogFields } from '../../../common/log.js';
import { eventually, freePort, loopbackBlock, spawnTracked } from '../../../test/lib/index.js';
import { parseConfig } from '../config.js';
import { MesosDns } from '../mesosdns.js';
import { Poller } from '../poller.js';
import { fakeState } from './fixture.js';
import { masterInfo, requireZooKeeper, startZooKeeper, zk, type ZkServer } from './zkserver.js';

requireZooKeeper();
const block = loopbackBlock();
const zkIp = block(1);

/** A /master/state server claiming to be the leader; `rename` changes the task set. */
async function stateServer(ip: string, rename: Record<string, string>) {
  const port = await freePort(ip);
  let hits = 0;
  const srv = http.createServer((req, res) => {
    hits++;
    const s = fakeState() as { leader: string; pid: string; frameworks: { tasks: { name: string }[] }[] };
    s.leader = s.pid = `master@${ip}:${port}`;
    for (const f of s.frameworks) for (const task of f.tasks) task.name = rename[task.name] ?? task.name;
    res.writeHead(req.url === '/master/state' ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(s));
  });
  await new Promise<void>((r) => srv.listen(port, ip, r));
  t.teardown(() => new Promise((r) => srv.close(r)));
  return { ip, port, info: masterInfo(ip, port), hits: () => hits, close: () => new Promise((r) => { srv.close(r); srv.closeAllConnections(); }) };
}

function recordingLog(): Logger & { lines: { level: string; event: string; f: LogFields }[]; has(event: string, n?: number): boolean } {
  const lines: { level: string; event: string; f: LogFields }[] = [];
  const mk = (level: string) => (event: string, f: LogFields = {}) => void lines.push({ level, event, f });
  const log = { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), child: () => log, lines,
    has: (event: string, n = 1) => lines.filter((l) => l.event === event).length >= n };
  return log;
}

const a = await stateServer(block(2), {});
const b = await stateServer(block(3), { nginx: 'nginx-b' });
const zkPort = await freePort(zkIp);
const zkUrl = `zk://${zkIp}:${zkPort}/mesos`;
const has = (dns: MesosDns, name: string) => !!dns.records()?.a.get(name)?.size;
const followsA = (dns: MesosDns) => has(dns, 'nginx.marathon.mesos') && !has(dns, 'nginx-b.marathon.mesos');
const followsB = (dns: MesosDns) => has(dns, 'nginx-b.marathon.mesos') && !has(dns, 'nginx.marathon.mesos');

const registry = createRegistry();
const log = recordingLog();
const { config } = parseConfig({ Zk: zkUrl, Listener: block(4), HTTPListener: block(4), Port: 0, HttpPort: 0, DnsOn: false, ExternalOn: false, ZkDetectionTimeout: 1 });
const dns = new MesosDns({ config, registry, log, lookup: async () => ['127.0.0.1'] });
const poller = new Poller({ target: dns, masters: [], refreshSeconds: 3600, timeoutSeconds: 5, log, registry, zkSessionTimeoutMs: 4000 });
t.teardown(() => poller.stop());
const metric = async (name: string) => (await registry.getSingleMetric(name)?.get())?.values[0]?.value;
let server: ZkServer;
const top = t;

t.test('ZooKeeper down at start, then started: records appear', async (t) => {
  t.equal(config.Masters.length, 0, 'zk-only config accepted');
  await poller.start(); // waits ZkDetectionTimeout (1 s) for a first leader, then goes on
  t.ok(log.has('no_masters'), 'nothing to poll is logged');
  t.equal(dns.records(), undefined, 'no records yet');
  t.equal(await metric('sextant_mesos_dns_zk_connected'), 0);
  await eventually(() => log.has('zk_detection_timeout'), 10_000, 50, 'zk_detection_timeout logged');
  server = await startZooKeeper(top, zkIp, zkPort); // lives for the whole file
  await zk.mkdirp(server.admin, '/mesos');
  await zk.create(server.admin, '/mesos/json.info_0000000003', a.info);
  await zk.create(server.admin, '/mesos/log_replicas', '', 0);
  await eventually(() => followsA(dns), 20_000, 50, 'records of leader A');
  t.equal(await metric('sextant_mesos_dns_zk_connected'), 1, 'zk connected gauge');
  t.equal(await metric('sextant_mesos_dns_zk_leader_changes_total'), 1);
  t.same(dns.records()?.a.get('leader.mesos'), new Set([a.ip]), 'leader.mesos is the zk leader');
});

t.test('leader change through the watch, not the next poll', async (t) => {
  await zk.create(server.admin, '/mesos/json.info_0000000005', b.info); // higher seq: not leader
  await zk.remove(server.admin, '/mesos/json.info_0000000003'); // leader gone: 5 (B) leads
  await eventually(() => followsB(dns), 10_000, 20, 'records follow B');
  t.same(dns.records()?.a.get('leader.mesos'), new Set([b.ip]));
  await zk.create(server.admin, '/mesos/json.info_0000000002', a.info); // lower seq: A leads again
  await eventually(() => followsA(dns), 10_000, 20, 'records follow A again');
  t.equal(await metric('sextant_mesos_dns_zk_leader_changes_total'), 3);
  t.ok(log.lines.some((l) => l.event === 'zk_leader_changed' && l.f.to === `${b.ip}:${b.port}`), 'change logged');
});

t.test('malformed znodes are logged and skipped', async (t) => {
  const rows = [
    { name: 'json.info_0000000000', data: '{not json', why: /not JSON/ },
    { name: 'json.info_0000000001', data: '{"address":{"ip":"10.0.0.1"},"hostname":"x"}', why: /no address/ },
    { name: 'json.info_0000000004', data: '[1,2]', why: /not a JSON object/ },
    { name: 'info_0000000000', data: '\x08\x01binary', why: /protobuf/ },
  ];
  const before = log.lines.length;
  for (const r of rows) await zk.create(server.admin, `/mesos/${r.name}`, r.data);
  await eventually(() => log.lines.slice(before).filter((l) => l.event === 'zk_znode_malformed').length >= 3, 10_000, 20, 'malformed logged');
  await eventually(() => log.lines.slice(before).some((l) => l.event === 'zk_znode_ignored'), 10_000, 20, 'protobuf logged');
  for (const r of rows) t.ok(log.lines.slice(before).some((l) => String(l.f.znode).endsWith(r.name) && r.why.test(String(l.f.why))), `${r.name} logged: ${r.why}`);
  t.equal(await metric('sextant_mesos_dns_zk_malformed_znodes_total'), 3);
  t.ok(followsA(dns), 'still following the lowest valid znode (A)');
  t.equal(await metric('sextant_mesos_dns_zk_leader_changes_total'), 3, 'no leader change');
});

t.test('sextant mesos-dns -config with a zk-only config', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sx-mdns-zk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ip = block(5);
  const httpPort = await freePort(ip);
  const cfg = join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ zk: zkUrl, refreshSeconds: 3600, listener: ip, port: await freePort(ip), httplistener: ip, httpport: httpPort, externalon: false }));
  const root = new URL('../../../', import.meta.url).pathname;
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', join(root, 'cli/sextant.ts'), 'mesos-dns', '-config', cfg], { cwd: root });
  await p.waitFor(/mesos-dns ready/, 30_000);
  const hosts = async () => {
    const r = await fetch(`http://${ip}:${httpPort}/v1/hosts/nginx.marathon.mesos`);
    const body = (await r.json()) as { ip: string }[];
    return body.some((h) => h.ip) ? body : undefined;
  };
  await eventually(hosts, 15_000, 50, 'nginx.marathon.mesos via the CLI');
  t.notMatch(p.output(), /zk_detection_unsupported/);
});

t.test('ZooKeeper killed: old records kept, daemon alive', async (t) => {
  await server.kill();
  await eventually(async () => (await metric('sextant_mesos_dns_zk_connected')) === 0, 15_000, 50, 'disconnected');
  const timeouts = log.lines.filter((l) => l.event === 'zk_detection_timeout').length;
  await eventually(() => log.lines.filter((l) => l.event === 'zk_detection_timeout').length > timeouts, 15_000, 50, 'no-leader timeout logged');
  t.match(log.lines.filter((l) => l.event === 'zk_detection_timeout').at(-1)?.f, { why: /unreachable/ });
  t.equal(await poller.pollOnce(), true, 'the last known leader is still polled');
  await a.close();
  await b.close();
  t.equal(await poller.pollOnce(), false, 'every master gone too: poll fails');
  t.ok(followsA(dns), 'old records kept');
  t.ok(log.has('poll_kept_old_records'));
});

t.test('ZooKeeper back (fresh data): new session, watch re-armed, records follow', async (t) => {
  const c = await stateServer(block(6), { nginx: 'nginx-c' });
  const again = await startZooKeeper(top, zkIp, zkPort);
  await zk.mkdirp(again.admin, '/mesos');
  await zk.create(again.admin, '/mesos/json.info_0000000001', c.info);
  await eventually(() => has(dns, 'nginx-c.marathon.mesos'), 20_000, 50, 'records of the new leader C');
  t.equal(await metric('sextant_mesos_dns_zk_connected'), 1);
  // The new server refuses the old session (it has seen a newer zxid): replaced after the timeout.
  t.ok(log.has('zk_session_expired') || log.has('zk_session_abandoned'), 'old session given up, new one opened');
  t.ok(log.has('zk_connected', 2), 'connected again');
});
