/**
 * `workers: N`: worker processes answer UDP on the dispatcher's own sockets. To know that a worker
 * (and not this process) answered, the queries are made with a synchronous `dig`: this test process
 * is the first dispatcher process, and its event loop is blocked until dig returns.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { loopbackBlock, requireTools, spawnTracked } from '../../../test/lib/index.js';
import { parseDispatcherConfig } from '../config.js';
import { createLogger } from '../../../common/log.js';
import { WorkerPool, toWire, type ZoneInput } from '../workers.js';
import { metric, startDispatcher, startDnsmasq } from './helpers.js';

const { dig } = requireTools('dig');

/** dig while this process is blocked: only a worker process can answer. */
const digBlocked = (ip: string, port: number, name: string) =>
  execFileSync(dig!, ['+short', '+tries=1', '+time=3', '-p', String(port), `@${ip}`, name], { encoding: 'utf8' }).trim();

t.test('a worker answers local zones and forwards while the first process is blocked; updates reach it before synced() resolves', async (t) => {
  const ip = loopbackBlock();
  const up = await startDnsmasq(t, ip(2), { addresses: { 'up.test': '10.9.9.9' } });
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up}`], workers: 2 });
  const pool = d.workerPool()!;
  t.equal(pool.pids().length, 1, 'one worker process besides this one');
  t.equal(await metric(d, 'sextant_dispatcher_workers'), 2);

  t.equal(digBlocked(ip(1), udp, 'up.test'), '10.9.9.9', 'forwarded by the worker');
  t.equal(digBlocked(ip(1), udp, 'ready.spartan'), ip(1), 'local zone answered by the worker');

  d.setZoneRecords([{ name: 'web.marathon.l4lb.thisdcos.directory', type: 'A', data: '11.1.1.1' }]);
  await d.synced();
  t.equal(digBlocked(ip(1), udp, 'web.marathon.l4lb.thisdcos.directory'), '11.1.1.1', 'the worker has the new zone');
  d.setZoneRecords([{ name: 'web.marathon.l4lb.thisdcos.directory', type: 'A', data: '11.1.1.2' }]);
  await d.synced();
  t.equal(digBlocked(ip(1), udp, 'web.marathon.l4lb.thisdcos.directory'), '11.1.1.2', 'and the next one');

  // The first process's /metrics adds the worker's series: 4 queries were answered there, none here.
  t.equal(await metric(d, 'sextant_dispatcher_requests_total', { transport: 'udp' }), 4, 'requests summed over processes');
  t.equal(await metric(d, 'sextant_dispatcher_zone_records'), 1, 'zone records counted once, not per process');
});

t.test('a worker that dies is started again, with the current zones', async (t) => {
  const ip = loopbackBlock();
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [], workers: 2 });
  const pool: WorkerPool = d.workerPool()!;
  d.setZoneRecords([{ name: 'db.marathon.l4lb.thisdcos.directory', type: 'A', data: '11.2.2.2' }]);
  await d.synced();
  const [old] = pool.pids();
  const ready = once(pool, 'ready');
  process.kill(old!, 'SIGKILL');
  const [, pid] = (await ready) as [number, number];
  t.not(pid, old, 'a new process');
  t.equal(pool.live(), 1);
  t.equal(digBlocked(ip(1), udp, 'db.marathon.l4lb.thisdcos.directory'), '11.2.2.2', 'it answers from the zones it was given at start');
});

t.test('workers exit when the dispatcher process is killed (no orphans)', async (t) => {
  const ip = loopbackBlock();
  const root = new URL('../../../', import.meta.url).pathname;
  const cfg = JSON.stringify({ bind_ips: [ip(1)], udp_port: 0, tcp_port: 0, upstream_resolvers: [], workers: 3 });
  const dir = mkdtempSync(join(tmpdir(), 'sx-workers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'd.json'), cfg);
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', `${root}cli/sextant.ts`, 'dispatcher', '--config', join(dir, 'd.json')]);
  await p.waitFor(/listening on/, 30_000);
  const pids = [...p.output().matchAll(/"event":"dispatcher_worker_started","slot":\d+,"pid":(\d+)/g)].map((m) => Number(m[1]));
  t.equal(pids.length, 2, 'two worker processes started');
  process.kill(p.pid!, 'SIGKILL');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // No event tells another process's end: look, for at most 10 s.
  const until = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  t.same(pids.filter(alive), [], 'every worker has exited');
});

t.test('workers: out of range or not a number is refused, naming the key', async (t) => {
  for (const workers of [0, 65, 1.5, 'two']) t.throws(() => parseDispatcherConfig({ workers }), /workers/);
  t.equal(parseDispatcherConfig({}).workers, 1, 'default: the dispatcher alone');
});

t.test('zones changed while a worker starts reach it before it serves', async (t) => {
  const ip = loopbackBlock();
  const config = parseDispatcherConfig({ bind_ips: [ip(1)], udp_port: 0, tcp_port: 0, upstream_resolvers: [], workers: 2 });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, ip(1), () => r()));
  t.teardown(() => sock.close());
  const name = 'late.marathon.l4lb.thisdcos.directory';
  let zones: ZoneInput[] = [{ name, type: 'A', data: '11.3.3.1' }];
  let pool: WorkerPool | undefined;
  let calls = 0;
  pool = new WorkerPool({
    count: 1,
    sockets: [sock],
    log: createLogger('dispatcher-test'),
    // The child is given these zones at init; the change right after it is broadcast while the child is not serving yet.
    state: () => {
      if (calls++ === 0)
        setImmediate(() => {
          zones = [{ name, type: 'A', data: '11.3.3.2' }];
          void pool!.broadcast({ t: 'zones', zones });
        });
      return { config: toWire(config), zones, mesos: [] };
    },
  });
  t.teardown(() => pool!.stop());
  await pool.start();
  t.equal(digBlocked(ip(1), sock.address().port, name), '11.3.3.2', 'the worker answers with the zones set during its start');
});

t.test("worker processes ask the elected master's Mesos-DNS first too", async (t) => {
  // The leader is a dnsmasq; the two other masters' ports are bound in this process, which dig
  // blocks: they never answer. A worker that ranked them first would wait its whole timeout.
  const ip = loopbackBlock();
  const port = await startDnsmasq(t, ip(2), { addresses: { 'marathon.mesos': '10.9.9.9' } });
  for (const k of [3, 4]) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((res) => s.bind(port, ip(k), () => res()));
    t.teardown(() => s.close());
  }
  const { d, udp } = await startDispatcher(t, ip(1), { mesos_resolvers: [3, 4, 2].map((k) => `${ip(k)}:${port}`), workers: 2 });
  d.setMesosLeader(ip(2));
  await d.synced();
  for (let i = 0; i < 6; i++) t.equal(digBlocked(ip(1), udp, `n${i}.marathon.mesos`), '10.9.9.9', `query ${i + 1}: the leader's answer, from the worker`);
});
