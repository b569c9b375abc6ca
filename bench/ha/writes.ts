/**
 * App updates (PUT /v2/apps/X?force=true, a changed env: the app record and a deployment that
 * finishes at once, no instances) on two real masters in the same run: one on the file store
 * (no --zk) and one elected alone on a 3-server ZooKeeper ensemble. Concurrency 1 and 16 (each
 * worker its own app, keep-alive connections), the two stores alternating in ROUNDS pairs so load
 * that drifts over the run hits both alike. Each run is bounded in count and time.
 */
import http from 'node:http';
import { loopbackBlock, startEnsemble } from '../../test/lib/index.js';
import { trackGroup } from '../lib/groups.js';
import { percentile } from '../lib/stats.js';
import { Cleanup, MasterProc, masterSpec } from './procs.js';
import { create, send, writeApp } from './http.js';

const ROUNDS = 2;
const COUNTS: Record<number, number> = { 1: 300, 16: 1600 };
const RUN_BOUND_MS = 120_000;

interface Run {
  lat: number[];
  seconds: number;
  failed: number;
}

async function run(m: MasterProc, conc: number, count: number, seq: { n: number }): Promise<Run> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const lat: number[] = [];
  let failed = 0;
  let left = count;
  const t0 = performance.now();
  const worker = async (w: number) => {
    while (left > 0 && performance.now() - t0 < RUN_BOUND_MS) {
      left--;
      const s = performance.now();
      const st = await send(`${m.marathon}/v2/apps/bench/w${w}?force=true`, 'PUT', writeApp(`/bench/w${w}`, ++seq.n), 10_000, agent);
      if (st >= 200 && st < 300) lat.push(performance.now() - s);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: conc }, (_, w) => worker(w)));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { lat, seconds, failed };
}

export interface WritesResult {
  rows: { store: 'file' | 'zookeeper'; conc: number; runs: Run[] }[];
}

export async function writes(o: { sessionMs: number }, log: (s: string) => void): Promise<WritesResult> {
  const c = new Cleanup();
  try {
    const ens = await startEnsemble(c, 3);
    for (const s of ens.servers) trackGroup(s.pid);
    const ip = loopbackBlock();
    const env = { ...process.env, SEXTANT_LOG_LEVEL: 'warn' };
    const file = new MasterProc(await masterSpec(c, 1, ip(1), [], env), c);
    const zk = new MasterProc(await masterSpec(c, 2, ip(2), ['--zk', ens.url('/sextant'), '--zk-session-timeout-ms', String(o.sessionMs)], env), c);
    await file.start();
    await zk.start();
    await zk.proc!.waitFor(/sextant master elected leader/, 60_000);
    for (const m of [file, zk]) for (let w = 0; w < 16; w++) await create(m.marathon, writeApp(`/bench/w${w}`, 0));
    const rows: WritesResult['rows'] = [];
    const row = (store: 'file' | 'zookeeper', conc: number) => {
      let r = rows.find((x) => x.store === store && x.conc === conc);
      if (!r) rows.push((r = { store, conc, runs: [] }));
      return r;
    };
    const seq = { n: 0 };
    for (const conc of [1, 16]) {
      for (let k = 0; k < ROUNDS; k++) {
        for (const [name, m] of k % 2 ? ([['zookeeper', zk], ['file', file]] as const) : ([['file', file], ['zookeeper', zk]] as const)) {
          const r = await run(m, conc, COUNTS[conc]!, seq);
          row(name, conc).runs.push(r);
          log(`writes: ${name} c${conc} round ${k + 1}: ${r.lat.length} ok, ${r.failed} failed, ${(r.lat.length / r.seconds).toFixed(0)}/s, p50 ${percentile(r.lat, 50).toFixed(1)} ms`);
        }
      }
    }
    return { rows };
  } finally {
    await c.run();
  }
}

export function writesTable(r: WritesResult): string {
  const agg = (runs: Run[]) => {
    const lat = runs.flatMap((x) => x.lat);
    const ok = lat.length;
    const secs = runs.reduce((s, x) => s + x.seconds, 0);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99), rate: ok / secs, ok, failed: runs.reduce((s, x) => s + x.failed, 0) };
  };
  const lines = ['| store | concurrency | writes | failed | p50 ms | p99 ms | writes/s | ZooKeeper / file (writes/s) |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'];
  for (const conc of [1, 16]) {
    const f = agg(r.rows.find((x) => x.store === 'file' && x.conc === conc)?.runs ?? []);
    const z = agg(r.rows.find((x) => x.store === 'zookeeper' && x.conc === conc)?.runs ?? []);
    lines.push(`| file | ${conc} | ${f.ok} | ${f.failed} | ${f.p50.toFixed(1)} | ${f.p99.toFixed(1)} | ${f.rate.toFixed(0)} | |`);
    lines.push(`| ZooKeeper (3 servers) | ${conc} | ${z.ok} | ${z.failed} | ${z.p50.toFixed(1)} | ${z.p99.toFixed(1)} | ${z.rate.toFixed(0)} | ${(z.rate / f.rate).toFixed(2)} |`);
  }
  return [
    `\`PUT /v2/apps/bench/wN?force=true\` with a changed env (the app record, then a deployment that finishes at once: no instances), one app per`,
    `worker, keep-alive; ${ROUNDS} rounds per store and concurrency, alternating file/ZooKeeper. Each acknowledged write was committed by the store`,
    '(file: tmp + fsync + rename + fsync(dir); ZooKeeper: a multi-op with the leader\'s fencing `check`, committed by a quorum).',
    '',
    ...lines,
    '',
  ].join('\n');
}
