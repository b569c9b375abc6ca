// Leader election and fencing on a real 3-server ZooKeeper ensemble: Mesos-style json.info_
// znodes readable by Mesos-DNS's parser, failover when the leader's session closes, a stale
// leader's writes refused (silent partition and a gone election znode), no write from both; every
// contender lists every contender (the control plane's masters part) as they leave and rejoin.
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { createLogger, createRegistry, type Logger } from '../../common/index.js';
import type { ElectedMaster } from '../../contracts/index.js';
import { masterInfo, ZkElection, type ElectionView } from '../election.js';
import { NotLeaderError, StoreUnavailableError } from '../errors.js';
import { ZkKvStore } from '../store/zk.js';
import { CreateMode, ZkSession } from '../zk/session.js';
import { eventually, startEnsemble, uniqueName } from '../../test/lib/index.js';

const ens = await startEnsemble(t, 3);
const log = createLogger('election-test');
type TD = { teardown(fn: () => unknown): void };

async function session(t: TD, connect = ens.connect, sessionTimeoutMs = 2000) {
  const s = new ZkSession({ connect, path: '/' }, { sessionTimeoutMs, connectTimeoutMs: 20_000 });
  await s.connect();
  t.teardown(() => s.close());
  return s;
}

async function contender(t: TD, path: string, port: number, connect?: string, recontend?: () => boolean, logger: Logger = log) {
  const zk = await session(t, connect);
  const registry = createRegistry();
  const e = new ZkElection({ session: zk, path, info: masterInfo({ id: `m${port}`, ip: '127.0.0.1', port }), log: logger, registry, ...(recontend ? { recontend } : {}) });
  await e.start();
  t.teardown(() => e.stop());
  return { zk, e, registry };
}

const until = (e: ZkElection, ok: (v: ElectionView) => boolean, ms = 15_000) =>
  ok(e.current) ? Promise.resolve(e.current) : new Promise<ElectionView>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`election did not reach the awaited view in ${ms} ms: ${JSON.stringify(e.current)}`)), ms);
    const on = (v: ElectionView) => ok(v) && (clearTimeout(timer), e.off('change', on), resolve(v));
    e.on('change', on);
  });

t.test('MasterInfo znodes as Mesos writes them; the lowest leads; the leader\'s session closed -> the other leads', async (t) => {
  const path = `/${uniqueName('mesos')}`;
  const a = await contender(t, path, 5050);
  await until(a.e, (v) => v.elected);
  const b = await contender(t, path, 5051);
  const vb = await until(b.e, (v) => v.leader?.id === 'm5050');
  t.notOk(vb.elected, 'b follows');
  t.equal(vb.leader!.pid, 'master@127.0.0.1:5050');
  const kids = (await a.zk.children(path)).sort();
  t.match(kids, [/^json\.info_\d{10}$/, /^json\.info_\d{10}$/], 'ephemeral sequential json.info_ znodes');
  const data = (await a.zk.getData(`${path}/${kids[0]}`)).data!;
  t.same(JSON.parse(data.toString()), { id: 'm5050', ip: 0x0100007f, port: 5050, pid: 'master@127.0.0.1:5050', hostname: '127.0.0.1', version: '1.4.0', address: { ip: '127.0.0.1', port: 5050, hostname: '127.0.0.1' } });
  t.equal((await a.registry.getSingleMetric('sextant_master_elected')!.get()).values[0]!.value, 1);
  t.equal((await b.registry.getSingleMetric('sextant_master_elected')!.get()).values[0]!.value, 0);
  t.throws(() => b.e.guard(), NotLeaderError, 'a follower may not write');
  a.zk.close(); // the session ends: ZooKeeper deletes a's znode at once
  const after = await until(b.e, (v) => v.elected);
  t.equal(after.leader!.pid, 'master@127.0.0.1:5051');
  t.equal(b.e.guard(), b.e.znode, 'the new leader writes, fenced by its own znode');
  t.equal((await b.registry.getSingleMetric('sextant_master_leader_changes_total')!.get()).values[0]!.value, 2);
});

/** A TCP relay to one ZooKeeper server that can go silent (a partition that closes nothing). */
async function relay(t: TD, host: string, port: number) {
  let frozen = false;
  const socks: net.Socket[] = [];
  const srv = net.createServer((c) => {
    const up = net.connect({ host, port });
    socks.push(c, up);
    c.on('data', (d) => frozen || up.write(d));
    up.on('data', (d) => frozen || c.write(d));
    const end = () => (c.destroy(), up.destroy());
    c.on('error', end).on('close', end);
    // Frozen, nothing reaches the client: not even the server closing its side (its session expired).
    const upEnd = () => (frozen ? up.destroy() : end());
    up.on('error', upEnd).on('close', upEnd);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => (socks.forEach((s) => s.destroy()), srv.close()));
  return {
    connect: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    /** Client connections open through this relay now. */
    open: () => socks.filter((s, i) => i % 2 === 0 && !s.destroyed).length,
    freeze: () => (frozen = true),
    cut: () => socks.forEach((s) => s.destroy()),
    /** Drop the frozen connections and let new ones through. */
    thaw: () => (socks.splice(0).forEach((s) => s.destroy()), (frozen = false)),
  };
}

t.test('fencing: a silently partitioned leader refuses writes; the new leader commits; no write commits from both', async (t) => {
  const path = `/${uniqueName('mesos')}`;
  const chroot = `/${uniqueName('sx')}`;
  const r = await relay(t, ens.servers[0]!.host, ens.servers[0]!.clientPort);
  const a = await contender(t, path, 5050, r.connect);
  await until(a.e, (v) => v.elected);
  const sa = new ZkKvStore(a.zk, chroot, { fence: a.e });
  await sa.open();
  await sa.put('apps/x', 'from-a-1');
  const b = await contender(t, path, 5051);
  const sb = new ZkKvStore(b.zk, chroot, { fence: b.e });
  await until(b.e, (v) => !v.elected && v.leader?.id === 'm5050');
  r.freeze();
  const t0 = Date.now();
  const acked: string[] = [];
  const refused: unknown[] = [];
  // a keeps trying to write while b takes over (bounded: 100 tries, 20 s).
  const writerA = (async () => {
    for (let i = 0; i < 100 && Date.now() - t0 < 20_000 && !b.e.current.elected; i++)
      await sa.put('apps/x', `from-a-stale-${i}`).then(() => acked.push(`a${i}`), (e: unknown) => refused.push(e));
  })();
  await until(b.e, (v) => v.elected, 20_000);
  t.comment(`b elected ${Date.now() - t0} ms after the partition (session timeout 2000 ms)`);
  await writerA;
  t.same(acked, [], 'the partitioned leader acknowledged nothing');
  t.ok(refused.length > 0 && refused.every((e) => e instanceof NotLeaderError || e instanceof StoreUnavailableError), `refused with NotLeaderError/StoreUnavailableError (${refused.length})`);
  t.throws(() => a.e.guard(), NotLeaderError, 'a refuses at once now');
  await sb.put('apps/x', 'from-b');
  r.cut(); // a's connection dies; its session is expired
  t.equal(await sb.get('apps/x'), 'from-b', 'only b\'s write is there');
});

t.test('fencing: a write checked against a gone election znode is refused and changes nothing', async (t) => {
  const path = `/${uniqueName('mesos')}`;
  const chroot = `/${uniqueName('sx')}`;
  const a = await contender(t, path, 5050);
  await until(a.e, (v) => v.elected);
  const stale = a.e.znode!;
  const zk = await session(t);
  const s = new ZkKvStore(zk, chroot, { fence: { guard: () => stale } });
  await s.open();
  await s.put('k', 'before');
  await a.e.stop(); // resign: the znode is deleted
  const err = await s.put('k', 'after').then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof NotLeaderError, `NotLeaderError (got ${String(err)})`);
  t.match((err as Error).message, stale);
  await t.rejects(s.put('new/key', 1), NotLeaderError, 'creates are fenced too');
  await t.rejects(s.delete('k'), NotLeaderError, 'deletes are fenced too');
  const plain = new ZkKvStore(zk, chroot);
  t.equal(await plain.get('k'), 'before');
  t.equal(await plain.get('new/key'), undefined);
});

t.test('a follower whose session expired opens a new one and contends again', async (t) => {
  const path = `/${uniqueName('mesos')}`;
  const a = await contender(t, path, 5050);
  await until(a.e, (v) => v.elected);
  const r = await relay(t, ens.servers[0]!.host, ens.servers[0]!.clientPort);
  const b = await contender(t, path, 5051, r.connect, () => true);
  await until(b.e, (v) => !v.elected && v.leader?.id === 'm5050');
  const first = b.e.znode!;
  r.freeze();
  // ZooKeeper expires b's session (2 s) and deletes its znode: the leader sees one contender left.
  const t0 = Date.now();
  for (;;) {
    if ((await a.zk.children(path)).length === 1) break;
    if (Date.now() - t0 > 20_000) throw new Error('b\'s session did not expire in 20 s');
    await new Promise((res) => setTimeout(res, 100)); // no event on the leader's side tells of another's expiry
  }
  const states: string[] = [];
  const seen = new Promise<void>((resolve) => b.zk.on('state', (s: string) => (states.push(s), s === 'expired' && resolve())));
  r.thaw();
  await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(`b's session was not reported expired in 20 s (states: ${states.join(', ')})`)), 20_000))]);
  // The view does not change (a still leads), so no event to await: ask for b's new znode.
  await eventually(() => !!b.e.znode && b.e.znode !== first && !b.e.current.elected && b.e.current.leader?.id === 'm5050', 20_000, 50, 'b to contend again');
  t.equal((await a.zk.children(path)).length, 2, 'b contends again with a new znode');
  await a.e.stop();
  await until(b.e, (v) => v.elected, 20_000);
  t.equal(b.e.guard(), b.e.znode, 'and leads once a resigns');
});

t.test('a follower whose server goes silent (packets dropped, nothing closed) reaches another server and leads when the leader goes', async (t) => {
  // node-zookeeper-client alone stays "connected" to a silent server forever: the ensemble expires
  // the session and the follower never hears that the leader is gone (the HA fault suite's partition
  // once waited 120 s for an election that never came). The read timeout drops such a connection.
  const path = `/${uniqueName('mesos')}`;
  const a = await contender(t, path, 5050);
  await until(a.e, (v) => v.elected);
  const r0 = await relay(t, ens.servers[0]!.host, ens.servers[0]!.clientPort);
  const r1 = await relay(t, ens.servers[1]!.host, ens.servers[1]!.clientPort);
  const b = await contender(t, path, 5051, `${r0.connect},${r1.connect}`, () => true);
  await until(b.e, (v) => !v.elected && v.leader?.id === 'm5050');
  const [on, other] = r0.open() > 0 ? [r0, r1] : [r1, r0];
  t.equal(on.open(), 1, 'b is connected through one relay');
  const silent: number[] = [];
  const states: string[] = [];
  b.zk.on('silent', (ms: number) => silent.push(ms));
  b.zk.on('state', (s: string) => states.push(s));
  on.freeze();
  const t0 = Date.now();
  // b reconnects through the other relay, with its session or, if the ensemble expired it meanwhile, a new one.
  await eventually(() => other.open() > 0 && b.zk.state === 'connected', 20_000, 50, `b to reconnect through the other relay (states: ${states.join(', ')})`);
  t.comment(`b reconnected ${Date.now() - t0} ms after its server went silent (session timeout 2000 ms); states ${states.join(' -> ')}`);
  t.equal(silent.length, 1, 'the silent connection was dropped once');
  t.ok(silent[0]! >= (2000 * 2) / 3, `after two thirds of the session timeout of silence at least (${silent[0]} ms)`);
  a.zk.close(); // the leader's session ends: its znode goes at once
  const v = await until(b.e, (x) => x.elected, 20_000);
  t.equal(v.leader!.id, 'm5051', 'b leads');
  t.equal(b.e.guard(), b.e.znode, 'and writes, fenced by its own znode');
});

/** `id*` for the leader, in election order: what a contender's masters() says. */
const names = (ms: ElectedMaster[]) => ms.map((m) => `${m.id}${m.leader ? '*' : ''}`).join(' ');

/** Resolves once e lists exactly `want` (names()); rejects naming what it lists after `ms`. */
const listing = (e: ZkElection, want: string, ms = 15_000) =>
  names(e.masters()) === want ? Promise.resolve() : new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => (e.off('masters', on), reject(new Error(`masters() is "${names(e.masters())}", not "${want}", after ${ms} ms`))), ms);
    const on = () => names(e.masters()) === want && (clearTimeout(timer), e.off('masters', on), resolve());
    e.on('masters', on);
  });

t.test('every contender lists every contender: one leaves (session closed), rejoins; a malformed or unreadable znode is left out, logged once', async (t) => {
  const path = `/${uniqueName('mesos')}`;
  const warned: string[] = [];
  const rec: Logger = { ...log, warn: (ev, f) => (warned.push(`${ev} ${String(f?.znode)}`), log.warn(ev, f)), child: () => rec };
  const a = await contender(t, path, 5050, undefined, undefined, rec);
  await until(a.e, (v) => v.elected);
  const b = await contender(t, path, 5051, undefined, undefined, rec);
  const c = await contender(t, path, 5052, undefined, undefined, rec);
  const all = [a, b, c];
  await Promise.all(all.map(({ e }) => listing(e, 'm5050* m5051 m5052')));
  t.same(c.e.masters()[0], { id: 'm5050', ip: '127.0.0.1', port: 5050, leader: true }, 'id, ip and port from MasterInfo');
  t.equal((await a.registry.getSingleMetric('sextant_master_election_masters')!.get()).values[0]!.value, 3);

  b.zk.close(); // b's session ends: ZooKeeper deletes its znode
  await Promise.all([a, c].map(({ e }) => listing(e, 'm5050* m5052')));
  t.pass('the two left list two');

  const b2 = await contender(t, path, 5051, undefined, undefined, rec);
  await Promise.all([a, c, b2].map(({ e }) => listing(e, 'm5050* m5052 m5051')));
  t.pass('b rejoined (last in line): all three list three again');

  // Not MasterInfo: JSON of another shape, not JSON at all, a znode the masters may not read. Left out, each logged once.
  const raw = await session(t);
  const locked = new ZkSession({ connect: ens.connect, path: '/', auth: 'intruder:secret' }, { sessionTimeoutMs: 2000, connectTimeoutMs: 20_000 });
  await locked.connect();
  t.teardown(() => locked.close());
  const bad = [
    await raw.create(`${path}/json.info_`, Buffer.from('{"id":"x"}'), CreateMode.EPHEMERAL_SEQUENTIAL),
    await raw.create(`${path}/json.info_`, Buffer.from('garbage'), CreateMode.EPHEMERAL_SEQUENTIAL),
    await locked.create(`${path}/json.info_`, Buffer.from(JSON.stringify(masterInfo({ id: 'secret', ip: '127.0.0.1', port: 5099 }))), CreateMode.EPHEMERAL_SEQUENTIAL, locked.acl),
  ];
  const badLogs = () => warned.filter((w) => /^election_znode_(malformed|unreadable) /.test(w));
  await eventually(() => badLogs().length === 9, 15_000, 50, 'each contender to log the 3 bad znodes');
  t.same([a, c, b2].map(({ e }) => names(e.masters())), ['m5050* m5052 m5051', 'm5050* m5052 m5051', 'm5050* m5052 m5051'], 'bad znodes are not listed');
  t.equal(warned.filter((w) => w === `election_znode_unreadable ${bad[2]}`).length, 3, 'the unreadable one is named so');

  a.zk.close(); // the leader leaves: c leads; the malformed znodes are re-read by nobody
  await Promise.all([c, b2].map(({ e }) => listing(e, 'm5052* m5051')));
  t.ok(c.e.current.elected, 'c leads');
  t.same(badLogs().map((w) => w.split(' ')[1]).sort(), [...bad, ...bad, ...bad].sort(), 'each bad znode logged once per contender, though the leader changed');
});
