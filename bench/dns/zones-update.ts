/**
 * The cost of one change of the dispatcher's local zones at N records (issue #26): a process CPU
 * time of `Dispatcher.setZoneRecords` (one process, no workers: a worker runs the same
 * `LocalZones.set` on the delta it gets) when one name is added at the middle of N records, then
 * removed again; median of ROUNDS each, after a warm-up. The records are held as the agent holds
 * them: unchanged entries are the same objects from one list to the next.
 *
 *   npx tsx bench/dns/zones-update.ts [N=10000] [ROUNDS=15]
 *
 * Not part of `npm run bench` (a few seconds; its figures go in docs/benchmarks/l4lb.md by hand).
 */
import { cpuUsage } from 'node:process';
import { Dispatcher, parseDispatcherConfig } from '../../dns/dispatcher/index.js';
import type { ZoneRecord } from '../../contracts/index.js';
import { median } from '../lib/stats.js';

const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 15);
const rec = (name: string, data: string): ZoneRecord => ({ key: `${name}/A/${data}`, name, type: 'A', data });
const vipName = (i: number) => `app${i}.marathon.l4lb.thisdcos.directory`;

const d = new Dispatcher(parseDispatcherConfig({ bind_ips: ['127.0.0.1'], upstream_resolvers: ['127.0.0.1:53'] }));
const base = Array.from({ length: n }, (_, i) => rec(vipName(i), `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
d.setZoneRecords(base);

const cpuMs = (f: () => void): number => {
  const c = cpuUsage();
  f();
  const u = cpuUsage(c);
  return (u.user + u.system) / 1e3;
};

const add: number[] = [];
const remove: number[] = [];
const warmup = 20;
for (let r = 0; r < warmup + rounds; r++) {
  const added = [...base.slice(0, n >> 1), rec(`new${r}.marathon.l4lb.thisdcos.directory`, '11.250.0.1'), ...base.slice(n >> 1)];
  const a = cpuMs(() => d.setZoneRecords(added));
  const b = cpuMs(() => d.setZoneRecords(base));
  if (r >= warmup) {
    add.push(a);
    remove.push(b);
  }
}
const f = (x: number) => x.toFixed(2);
console.log(`${n} records, median of ${rounds}: add ${f(median(add))} ms, remove ${f(median(remove))} ms CPU (add ${add.map(f).join(' ')}; remove ${remove.map(f).join(' ')})`);
