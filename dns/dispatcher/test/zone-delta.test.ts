/**
 * Worker processes are sent what changed in the zones (zone-delta.ts), not the whole list: the
 * delta rebuilds the parent's list in the worker (same records, same order), a reordered list is
 * sent whole, a worker that cannot apply a delta is sent the whole list, and a record changed in
 * place and set again is in the delta. Worker answers are checked with a synchronous `dig` (this
 * process blocked: only the worker can answer).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { loopbackBlock, requireTools } from '../../../test/lib/index.js';
import type { WorkerPool, ZoneInput } from '../workers.js';
import { applyZoneDelta, zoneDelta } from '../zone-delta.js';
import { startDispatcher } from './helpers.js';

const { dig } = requireTools('dig');
const digBlocked = (ip: string, port: number, name: string) =>
  execFileSync(dig!, ['+short', '+tries=1', '+time=3', '-p', String(port), `@${ip}`, name], { encoding: 'utf8' }).trim();
const rec = (i: number, data = `11.0.${i >> 8}.${i & 255}`): ZoneInput => ({ name: `app${i}.marathon.l4lb.thisdcos.directory`, type: 'A', data });

t.test('a delta rebuilds the new list from the old one; moved or repeated records get no delta', async (t) => {
  const old = Array.from({ length: 50 }, (_, i) => rec(i));
  const next = [rec(100), ...old.slice(0, 10), rec(101), ...old.slice(12, 40), rec(102), ...old.slice(41), rec(103)];
  const d = zoneDelta(old, next)!;
  t.same(d.removed, [10, 11, 40], 'removed positions in the old list');
  t.same(d.added.map(([i]) => i), [0, 11, 40, 50], 'added positions in the new list');
  const got = applyZoneDelta(old, JSON.parse(JSON.stringify(d)));
  t.same(got, next, 'the same records in the same order');
  t.ok(got.slice(1, 11).every((r, i) => r === old[i]), 'kept records are the held objects');
  t.equal(zoneDelta(old, [old[1]!, old[0]!, ...old.slice(2)]), undefined, 'a new order: no delta');
  t.equal(zoneDelta(old, [...old, old[0]!]), undefined, 'a repeated record: no delta');
  t.throws(() => applyZoneDelta(old.slice(1), d), /does not fit the held list/, 'a delta made from another list is refused');
});

t.test('a worker gets deltas for small changes and the whole list when a delta fails', async (t) => {
  const ip = loopbackBlock();
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [], workers: 2 });
  const pool: WorkerPool = d.workerPool()!;
  const sent: string[] = [];
  const broadcast = pool.broadcast.bind(pool);
  pool.broadcast = (m) => (sent.push(m.t), broadcast(m));
  const base = Array.from({ length: 100 }, (_, i) => rec(i));
  d.setZoneRecords(base);
  await d.synced();
  d.setZoneRecords([...base.slice(0, 50), rec(50, '11.9.9.9'), ...base.slice(52), rec(200)]);
  await d.synced();
  t.same(sent, ['zones', 'zones-delta'], 'the first list whole, the change as a delta');
  t.equal(digBlocked(ip(1), udp, rec(50).name), '11.9.9.9', 'the worker answers a changed name');
  t.equal(digBlocked(ip(1), udp, rec(200).name), '11.0.0.200', 'and an added one');
  t.equal(digBlocked(ip(1), udp, rec(51).name), '', 'a removed name has no answer');
  t.equal(digBlocked(ip(1), udp, rec(7).name), '11.0.0.7', 'a kept name still answers');
  // The worker is made to hold another list, of no version: the next delta does not apply there, so it is sent the whole list.
  await pool.broadcast({ t: 'zones', zones: [rec(0, '11.6.6.6')] });
  t.equal(digBlocked(ip(1), udp, rec(0).name), '11.6.6.6', 'the worker holds the other list');
  d.setZoneRecords([...base.slice(0, 50), rec(50, '11.9.9.8'), ...base.slice(52), rec(200)]);
  await d.synced();
  t.equal(digBlocked(ip(1), udp, rec(50).name), '11.9.9.8', 'after a failed delta the worker answers from the whole list');
  t.equal(digBlocked(ip(1), udp, rec(0).name), '11.0.0.0', 'every name of it');
  t.equal(sent.at(-1), 'zones-delta', 'that change was sent as a delta');
});

t.test('a record changed in place and set again reaches the workers (in the delta, as removed and added)', async (t) => {
  const ip = loopbackBlock();
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [], workers: 2 });
  const pool: WorkerPool = d.workerPool()!;
  const sent: string[] = [];
  const broadcast = pool.broadcast.bind(pool);
  pool.broadcast = (m) => (sent.push(m.t === 'zones-delta' ? `delta -${m.removed.join(',')} +${m.added.map(([i]) => i).join(',')}` : m.t), broadcast(m));
  const base = Array.from({ length: 100 }, (_, i) => rec(i));
  d.setZoneRecords(base);
  await d.synced();
  base[7]!.data = '11.7.7.7';
  d.setZoneRecords(base.slice());
  await d.synced();
  t.same(sent, ['zones', 'delta -7 +7'], 'the changed record is sent as a delta');
  t.equal(digBlocked(ip(1), udp, rec(7).name), '11.7.7.7', 'the worker answers its new data');
});
