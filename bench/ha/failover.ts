/**
 * Failover: 3 `sextant master --zk` processes over a 3-server ensemble, 100 simulated agents
 * (agents.ts: the agent's own leader detector and registration code) running 2 tasks each of one
 * app. KILLS times: kill -9 the leader (by PID), then measure
 *   - to the first write acknowledged by the new leader: a writer PUTs /v2/apps/bench/write
 *     round-robin to the surviving masters (a follower proxies to the leader), a new attempt every
 *     WRITE_EVERY_MS or as soon as one fails, each bounded; the time is when the first 2xx arrived;
 *   - to every agent re-registered with the new leader (the agents' own clock, same machine);
 *   - to the new leader's "elected" line on stdout (session expiry + election, for the breakdown).
 * The killed master is started again (same address, work dir) and contends before the next kill;
 * the app must have its 200 tasks running under the new leader before the next round.
 */
import { cpSync } from 'node:fs';
import { percentile } from '../lib/stats.js';
import { loopbackBlock, startEnsemble, eventually } from '../../test/lib/index.js';
import { trackGroup } from '../lib/groups.js';
import { AgentsProc, Cleanup, MasterProc, masterSpec } from './procs.js';
import { create, getJson, send, writeApp } from './http.js';
import { breakdown, breakdownTable, type AgentLine, type Breakdown } from './breakdown.js';

export interface FailoverOptions {
  kills: number;
  agents: number;
  sessionMs: number;
  tasksPerAgent: number;
}

export interface Round {
  firstWriteMs: number;
  allAgentsMs: number;
  electedMs: number;
  leadingMs: number;
  writeAttempts: number;
}

export interface FailoverResult {
  rounds: Round[];
  /** Where the time went, per kill (breakdown.ts). */
  steps: Breakdown[];
  errors: string[];
}

const WRITE_EVERY_MS = 20;
const WRITE_TIMEOUT_MS = 2000;
const ROUND_BOUND_MS = 60_000;

export async function failover(o: FailoverOptions, log: (s: string) => void): Promise<FailoverResult> {
  const c = new Cleanup();
  const rounds: Round[] = [];
  const steps: Breakdown[] = [];
  const errors: string[] = [];
  try {
    const ens = await startEnsemble(c, 3);
    if (process.env.BENCH_HA_KEEP) c.teardown(() => cpSync((ens.ensemble as unknown as { o: { dir: string } }).o.dir, process.env.BENCH_HA_KEEP!, { recursive: true }));
    if (process.env.BENCH_HA_KEEP) c.teardown(() => ens.servers.forEach((s) => console.error(`--- zk ${s.id}\n${ens.ensemble.tailOf(s.id)}`)));
    for (const s of ens.servers) trackGroup(s.pid);
    const ip = loopbackBlock();
    const env = { ...process.env, SEXTANT_LOG_LEVEL: 'info' };
    const args = ['--zk', ens.url('/sextant'), '--zk-session-timeout-ms', String(o.sessionMs)];
    const masters = [1, 2, 3].map(async (n) => new MasterProc(await masterSpec(c, n, ip(n), args, env), c));
    const ms = await Promise.all(masters);
    await ms[0]!.start();
    await ms[0]!.proc!.waitFor(/sextant master elected leader/, 60_000);
    await Promise.all(ms.slice(1).map((m) => m.start()));
    let leader = ms[0]!;
    log(`failover: 3 masters up, leader ${leader.hostPort}; starting ${o.agents} agents`);

    const agents = new AgentsProc(ens.url('/mesos'), ip(10), o.agents, c, { ...env, SEXTANT_LOG_LEVEL: 'warn' });
    await agents.wait((m) => m.ready === o.agents, 180_000, `${o.agents} agents registered`);
    const instances = o.agents * o.tasksPerAgent;
    const app = { id: '/bench/run', cmd: 'sleep 100000', instances, cpus: 0.01, mem: 8, constraints: [['hostname', 'MAX_PER', String(o.tasksPerAgent)]] };
    await create(leader.marathon, app);
    await create(leader.marathon, writeApp('/bench/write', 0));
    const running = (m: MasterProc) => async () => (await getJson<{ app: { tasksRunning: number } }>(`${m.marathon}/v2/apps/bench/run`)).body?.app.tasksRunning === instances;
    await eventually(running(leader), 120_000, 200, `${instances} tasks running`);
    log(`failover: ${instances} tasks running; ${o.kills} kills`);

    let writes = 0;
    for (let k = 0; k < o.kills; k++) {
      const survivors = ms.filter((m) => m !== leader);
      // Each agent's latest registration after the kill: [master, ms after the kill].
      const latest = new Map<number, [string, number]>();
      let killWall = Infinity;
      let settle: () => void = () => undefined;
      const settled = new Promise<void>((r) => (settle = r));
      const lines: AgentLine[] = [];
      const off = agents.on((m) => {
        if (typeof m.t === 'number' && m.t >= killWall && (typeof m.seen === 'number' || typeof m.try === 'number')) lines.push(m as AgentLine);
        if (typeof m.reg !== 'number' || typeof m.t !== 'number' || typeof m.master !== 'string' || m.t < killWall) return;
        latest.set(m.reg, [m.master, m.t - killWall]);
        if (latest.size === o.agents && new Set([...latest.values()].map(([h]) => h)).size === 1) settle();
      });
      killWall = Date.now();
      const killAt = await leader.kill9();

      // The writer: round-robin over the survivors until one acknowledges.
      let attempts = 0;
      let firstWriteMs = NaN;
      const until = killAt + ROUND_BOUND_MS;
      for (let i = 0; performance.now() < until; i++) {
        const target = survivors[i % survivors.length]!;
        const t0 = performance.now();
        attempts++;
        const st = await send(`${target.marathon}/v2/apps/bench/write?force=true`, 'PUT', writeApp('/bench/write', ++writes), WRITE_TIMEOUT_MS);
        if (st >= 200 && st < 300) {
          firstWriteMs = performance.now() - killAt;
          break;
        }
        const wait = WRITE_EVERY_MS - (performance.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([settled.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ROUND_BOUND_MS)))]);
      clearTimeout(timer);
      off();
      const host = [...latest.values()][0]?.[0];
      const next = ms.find((m) => m.hostPort === host);
      if (!ok || !next) {
        errors.push(`kill ${k + 1}: agents did not all re-register with one new leader within ${ROUND_BOUND_MS} ms (${latest.size} of ${o.agents} registered after the kill)`);
        break;
      }
      if (Number.isNaN(firstWriteMs)) errors.push(`kill ${k + 1}: no write acknowledged within ${ROUND_BOUND_MS} ms`);
      const electedAt = next.eventAt('master_elected', killWall);
      const leadingAt = next.eventAt('master_leading', killWall);
      const r: Round = {
        firstWriteMs,
        allAgentsMs: Math.max(...[...latest.values()].map(([, t]) => t)),
        electedMs: electedAt === undefined ? NaN : electedAt - killWall,
        leadingMs: leadingAt === undefined ? NaN : leadingAt - killWall,
        writeAttempts: attempts,
      };
      rounds.push(r);
      if (process.env.BENCH_HA_KEEP && electedAt) console.error(next.proc!.output().split('\n').filter((l) => { const m = /"ts":"([^"]+)"/.exec(l); return m && Date.parse(m[1]!) >= electedAt - 200 && Date.parse(m[1]!) < electedAt + 6000; }).map((l) => l.slice(0, 300)).join('\n'));
      log(`failover: kill ${k + 1}/${o.kills}: ${leader.hostPort} -> ${next.hostPort}: elected ${r.electedMs} ms, leading ${r.leadingMs} ms, first write ${r.firstWriteMs.toFixed(0)} ms, agents first/median/all ${Math.min(...[...latest.values()].map(([, t]) => t))}/${percentile([...latest.values()].map(([, t]) => t), 50)}/${r.allAgentsMs} ms`);

      const dead = leader;
      leader = next;
      await dead.start();
      const follower = survivors.find((m) => m !== next)!;
      await eventually(running(leader), ROUND_BOUND_MS, 200, `${instances} tasks running under ${leader.hostPort} after kill ${k + 1}`).then(() => undefined, async (err: Error) => {
        const a = (await getJson<{ app: Record<string, unknown> }>(`${leader.marathon}/v2/apps/bench/run`)).body?.app ?? {};
        const counts = ['tasksRunning', 'tasksStaged', 'tasksHealthy', 'tasksUnhealthy'].map((k) => `${k} ${String(a[k])}`).join(', ');
        const st = (await getJson<{ frameworks: { tasks: { state: string }[] }[] }>(`${leader.mesos}/master/state`)).body;
        const states = new Map<string, number>();
        for (const f of st?.frameworks ?? []) for (const t of f.tasks) states.set(t.state, (states.get(t.state) ?? 0) + 1);
        errors.push(`${err.message} (${counts}; /master/state: ${[...states].map(([s, n]) => `${s} ${n}`).join(', ')})`);
      });
      // The new leader logs its take-over's ZooKeeper write latencies 6 s after taking over.
      await eventually(async () => next.logSince(killWall).some((l) => l.event === 'takeover_store_writes'), 15_000, 200, 'takeover_store_writes').catch(() => undefined);
      const b = breakdown(killWall, firstWriteMs, next.logSince(killWall), follower.logSince(killWall), lines, next.hostPort);
      steps.push(b);
      r.leadingMs = b.leading; // every service starts after the agents are back: logged after the round was measured
      log(`failover: kill ${k + 1} steps: follower saw ${b.followerSaw}, agents saw ${b.agentsSawMedian}/${b.agentsSawMax}, loaded ${b.stateLoaded}, listening ${b.listening}, services ${JSON.stringify(b.services)}, agents ok ${b.agentFirst}/${b.agentMedian}/${b.agentAll}, req ${b.requestMedianMs}/${b.requestMaxMs} ms, failed tries ${b.attemptsFailedMean.toFixed(2)} ${JSON.stringify(b.failures)}, zk ${JSON.stringify(b.zkWrites)}`);
    }
    for (const m of ms) errors.push(...m.exits);
    return { rounds, steps, errors };
  } finally {
    await c.run();
  }
}

export function failoverTable(o: FailoverOptions, r: FailoverResult): string {
  const ok = r.rounds.filter((x) => !Number.isNaN(x.firstWriteMs) && !Number.isNaN(x.allAgentsMs));
  // A round whose leader had not logged a step yet when measured has NaN there: left out of that row.
  const col = (f: (x: Round) => number) => ok.map(f).filter((x) => !Number.isNaN(x));
  const row = (what: string, xs: number[], target?: number) => {
    const p50 = percentile(xs, 50);
    const p99 = percentile(xs, 99);
    return `| ${what} (${xs.length}) | ${(p50 / 1000).toFixed(2)} | ${(p99 / 1000).toFixed(2)} | ${(Math.max(...xs) / 1000).toFixed(2)} | ${target ? `${(target / 1000).toFixed(0)} s (p99 / target ${(p99 / target).toFixed(2)})` : '-'} |`;
  };
  return [
    `${ok.length} of ${r.rounds.length} kills measured completely; ZooKeeper session timeout ${o.sessionMs} ms (\`--zk-session-timeout-ms\`), tickTime 200 ms.`,
    '',
    '| from kill -9 of the leader to | p50 s | p99 s | max s | target |',
    '| --- | ---: | ---: | ---: | --- |',
    row('the new master learns it is elected (session expiry + election; its log)', col((x) => x.electedMs)),
    row('the new leader has loaded the state and started its services, after its agents re-registered (its log)', col((x) => x.leadingMs)),
    row('the first write acknowledged by the new leader', col((x) => x.firstWriteMs), 3000),
    row(`every one of ${o.agents} agents re-registered with the new leader`, col((x) => x.allAgentsMs), 5000),
    '',
    'Where the time goes (each step over the same kills; `master_leading` is when every service has started):',
    '',
    breakdownTable(r.steps),
    `Per kill (ms, elected / leading / first write / all agents): ${r.rounds.map((x) => `${x.electedMs.toFixed(0)}/${x.leadingMs.toFixed(0)}/${x.firstWriteMs.toFixed(0)}/${x.allAgentsMs.toFixed(0)}`).join(', ')}.`,
    ...(r.errors.length ? ['', 'Errors:', ...r.errors.map((e) => `- ${e}`)] : []),
    '',
  ].join('\n');
}
