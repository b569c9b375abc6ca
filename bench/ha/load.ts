/**
 * A new leader loading 10,000 tasks: 100 apps of 100 instances each, their tasks on 50 agents, are
 * written into the ZooKeeper store (the records a leader leaves there); two `sextant master --zk`
 * processes start, the first leads; kill -9 of it, then the time until the second answers
 * `/master/state` with 200 and all 10,000 tasks (asked every POLL_MS, each GET bounded). Repeated
 * ROUNDS times (the killed master restarts and contends). The size of the largest znode is
 * reported against ZooKeeper's 1 MiB limit.
 */
import { randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import { KEYS, type AgentRecord, type FrameworkRecord, type TaskRecord } from '../../master/model.js';
import { parseApp } from '../../master/marathon/app.js';
import { taskId, taskName } from '../../master/marathon/naming.js';
import { ZkKvStore } from '../../master/store/zk.js';
import { ZkSession } from '../../master/zk/session.js';
import { loopbackBlock, startEnsemble } from '../../test/lib/index.js';
import { trackGroup } from '../lib/groups.js';
import { percentile } from '../lib/stats.js';
import { Cleanup, MasterProc, masterSpec } from './procs.js';

const TASKS = 10_000;
const APPS = 100;
const AGENTS = 50;
const POLL_MS = 50;
const BOUND_MS = 120_000;

export interface LoadResult {
  rounds: { stateMs: number; electedMs: number; bytes: number }[];
  seedMs: number;
  largest: { key: string; bytes: number };
  errors: string[];
}

async function seed(store: ZkKvStore): Promise<{ key: string; bytes: number }> {
  const mid = randomUUID();
  const fw = `${mid}-0000`;
  let largest = { key: '', bytes: 0 };
  const put = async (key: string, v: unknown) => {
    const bytes = Buffer.byteLength(JSON.stringify(v));
    if (bytes > largest.bytes) largest = { key, bytes };
    await store.put(key, v);
  };
  await put(KEYS.masterId, mid);
  await put(KEYS.agentSeq, AGENTS - 1);
  const f: FrameworkRecord = { id: fw, name: 'marathon', registered_time: 1, hostname: '127.0.0.1', pid: 'scheduler-marathon@127.0.0.1:8080' } as FrameworkRecord;
  await put(KEYS.framework('marathon'), f);
  const version = new Date(1_700_000_000_000).toISOString();
  for (let a = 0; a < AGENTS; a++) {
    const rec: AgentRecord = { agent_id: `${mid}-S${a}`, hostname: `agent${a}.bench`, ip: `10.0.0.${a + 1}`, port: 5051, resources: { cpus: 256, mem: 1 << 20, disk: 1e6, ports: [[31000, 32999]] }, attributes: {}, active: true, registered_time: 1 };
    await put(KEYS.agent(rec.agent_id), rec);
  }
  const per = TASKS / APPS;
  for (let p = 0; p < APPS; p++) {
    const id = `/bench/app${p}`;
    const app = parseApp({ id, cmd: 'sleep 100000', instances: per, cpus: 0.01, mem: 8, portDefinitions: [{ port: 0, name: 'http', labels: { VIP_0: `/app${p}:80` } }] });
    await put(KEYS.app(id), { app, version, configVersion: version });
    const batch: Promise<void>[] = [];
    for (let i = 0; i < per; i++) {
      const n = p * per + i;
      const a = n % AGENTS;
      const port = 31000 + Math.floor(n / AGENTS);
      const tid = taskId(id);
      const t: TaskRecord = {
        info: {
          task_id: tid, name: taskName(id), framework_id: fw, agent_id: `${mid}-S${a}`, command: { value: 'sleep 100000', shell: true }, env: {},
          resources: { cpus: 0.01, mem: 8, disk: 0, ports: [[port, port]] }, ports: [port], labels: [],
          discovery: { visibility: 'FRAMEWORK', name: taskName(id), ports: { ports: [{ number: port, name: 'http', protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: `/app${p}:80` }] } }] } },
          kill_grace_period_ms: 3000,
        },
        state: 'TASK_RUNNING',
        statuses: [{ state: 'TASK_STARTING', timestamp: 1_700_000_000 }, { state: 'TASK_RUNNING', timestamp: 1_700_000_001 }],
        agent_ip: `10.0.0.${a + 1}`, agent_hostname: `agent${a}.bench`, task_ips: [], app_id: id, app_version: version, staged_at: 1_700_000_000, started_at: 1_700_000_001,
      };
      batch.push(put(KEYS.task(tid), t));
    }
    await Promise.all(batch);
  }
  return largest;
}

async function stateTasks(url: string): Promise<{ status: number; tasks: number; bytes: number }> {
  try {
    const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    if (r.status !== 200) return { status: r.status, tasks: 0, bytes: 0 };
    const text = await r.text();
    const st = JSON.parse(text) as { frameworks?: { tasks: unknown[] }[] };
    return { status: 200, tasks: (st.frameworks ?? []).reduce((s, f) => s + f.tasks.length, 0), bytes: text.length };
  } catch {
    return { status: 0, tasks: 0, bytes: 0 };
  }
}

export async function loadTime(o: { rounds: number; sessionMs: number }, log: (s: string) => void): Promise<LoadResult> {
  const c = new Cleanup();
  const errors: string[] = [];
  try {
    const ens = await startEnsemble(c, 3);
    for (const s of ens.servers) trackGroup(s.pid);
    if (process.env.BENCH_HA_KEEP) c.teardown(() => cpSync((ens.ensemble as unknown as { o: { dir: string } }).o.dir, `${process.env.BENCH_HA_KEEP!}-load`, { recursive: true }));
    const session = new ZkSession(ens.url('/sextant'), { sessionTimeoutMs: 10_000, connectTimeoutMs: 30_000 });
    await session.connect();
    c.teardown(() => session.close());
    const store = new ZkKvStore(session, '/sextant');
    await store.open();
    const t0 = performance.now();
    const largest = await seed(store);
    const seedMs = performance.now() - t0;
    session.close();
    log(`load: ${TASKS} tasks of ${APPS} apps on ${AGENTS} agents written to ZooKeeper in ${(seedMs / 1000).toFixed(1)} s; largest value ${largest.bytes} bytes (${largest.key})`);

    const ip = loopbackBlock();
    // Agents are simulated by the records only: a long agent timeout keeps their tasks running.
    const env = { ...process.env, SEXTANT_LOG_LEVEL: 'info' };
    const args = ['--zk', ens.url('/sextant'), '--zk-session-timeout-ms', String(o.sessionMs), '--agent-timeout-ms', '3600000'];
    const ms = await Promise.all([1, 2].map(async (n) => new MasterProc(await masterSpec(c, n, ip(n), args, env), c)));
    await ms[0]!.start();
    await ms[0]!.proc!.waitFor(/sextant master elected leader/, BOUND_MS);
    await ms[1]!.start();
    let leader = ms[0]!;
    const first = await stateTasks(`${leader.mesos}/master/state`);
    if (first.tasks !== TASKS) throw new Error(`the first leader serves ${first.tasks} tasks, not ${TASKS}`);
    const rounds: LoadResult['rounds'] = [];
    for (let k = 0; k < o.rounds; k++) {
      const next = ms.find((m) => m !== leader)!;
      const killWall = Date.now();
      const killAt = await leader.kill9();
      let got = { status: 0, tasks: 0, bytes: 0 };
      while (performance.now() - killAt < BOUND_MS) {
        const p0 = performance.now();
        got = await stateTasks(`${next.mesos}/master/state`);
        if (got.status === 200 && got.tasks === TASKS) break;
        const wait = POLL_MS - (performance.now() - p0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (got.tasks !== TASKS) {
        errors.push(`round ${k + 1}: no /master/state with ${TASKS} tasks from ${next.hostPort} within ${BOUND_MS} ms (last: HTTP ${got.status}, ${got.tasks} tasks)`);
        break;
      }
      const stateMs = performance.now() - killAt;
      const electedAt = next.eventAt('master_elected', killWall);
      rounds.push({ stateMs, electedMs: electedAt === undefined ? NaN : electedAt - killWall, bytes: got.bytes });
      log(`load: round ${k + 1}/${o.rounds}: /master/state with ${TASKS} tasks ${stateMs.toFixed(0)} ms after the kill (elected at ${rounds.at(-1)!.electedMs} ms)`);
      const dead = leader;
      leader = next;
      await dead.start();
    }
    for (const m of ms) errors.push(...m.exits);
    const persistFailed = ms.flatMap((m) => (m.proc?.output() ?? '').split('\n').filter((l) => /persist_failed|StoreValueTooLarge/.test(l)).slice(0, 1));
    errors.push(...persistFailed.map((l) => `a master could not store a value: ${l.slice(0, 400)}`));
    return { rounds, seedMs, largest, errors };
  } finally {
    await c.run();
  }
}

export function loadTable(o: { sessionMs: number }, r: LoadResult): string {
  const st = r.rounds.map((x) => x.stateMs);
  const el = r.rounds.map((x) => x.electedMs);
  const s = (ms: number) => (ms / 1000).toFixed(2);
  return [
    `${TASKS} tasks (${APPS} apps x ${TASKS / APPS} instances, each with a VIP label) on ${AGENTS} agents, written into the ZooKeeper store in ${s(r.seedMs)} s`,
    `(one znode per record; largest value ${r.largest.bytes} bytes, \`${r.largest.key}\`, limit 1,000,000). Two masters, session timeout ${o.sessionMs} ms;`,
    `kill -9 of the leader, then \`GET /master/state\` on the other every ${POLL_MS} ms until a 200 lists all ${TASKS} tasks (${r.rounds[0] ? (r.rounds[0].bytes / 2 ** 20).toFixed(1) : '?'} MiB).`,
    '',
    '| from kill -9 of the leader to | p50 s | max s | rounds |',
    '| --- | ---: | ---: | ---: |',
    `| the new master learns it is elected (its log) | ${s(percentile(el, 50))} | ${s(Math.max(...el))} | ${el.length} |`,
    `| its first 200 from \`/master/state\` with all ${TASKS} tasks | ${s(percentile(st, 50))} | ${s(Math.max(...st))} | ${st.length} |`,
    `| of which loading and serving (difference of the medians) | ${s(percentile(st, 50) - percentile(el, 50))} | | |`,
    ...(r.errors.length ? ['', 'Errors:', ...r.errors.map((e) => `- ${e}`)] : []),
    '',
  ].join('\n');
}
