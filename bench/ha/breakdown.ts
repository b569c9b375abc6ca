/**
 * Where a failover's time goes (failover.ts): per kill, the steps from kill -9 of the leader to the
 * last agent re-registered, from the new leader's log (its events' ts), the surviving follower's
 * log (when it saw the new leader) and the simulated agents' lines (agents.ts: when each saw the
 * new leader, each registration attempt with its outcome). All clocks are this machine's.
 */
import { percentile } from '../lib/stats.js';

type LogLine = Record<string, unknown> & { event: string; at: number };

/** Milliseconds after the kill (NaN when the step was not seen). */
export interface Breakdown {
  /** The other survivor's `leader_changed` (the dead leader's session expired, its znode gone). */
  followerSaw: number;
  elected: number;
  stateLoaded: number;
  /** `master_started`: Mesos and Marathon ports listening. */
  listening: number;
  /** Each service's `service_started`, by name. */
  services: Record<string, number>;
  leading: number;
  firstWrite: number;
  agentsSawMedian: number;
  agentsSawMax: number;
  /** The first registration answered 200, the median agent's, the last agent's. */
  agentFirst: number;
  agentMedian: number;
  agentAll: number;
  /** Per agent: failed attempts before the one answered 200 (mean), and their causes. */
  attemptsFailedMean: number;
  failures: Record<string, number>;
  /** Send to reply of the attempt answered 200 (median, max over agents). */
  requestMedianMs: number;
  requestMaxMs: number;
  /** The new leader's ZooKeeper write latencies in its first seconds (`takeover_store_writes`). */
  zkWrites?: { writes: number; p50_ms: number; p99_ms: number; max_ms: number; batches?: number; batched_puts?: number };
}

export interface AgentLine {
  seen?: number;
  leader?: string;
  try?: number;
  t0?: number;
  t?: number;
  status?: number;
  err?: string;
}

export function breakdown(killWall: number, firstWriteMs: number, leaderLog: LogLine[], followerLog: LogLine[], agentLines: AgentLine[], newLeader: string): Breakdown {
  const at = (log: LogLine[], ev: string) => {
    const l = log.find((x) => x.event === ev);
    return l ? l.at - killWall : NaN;
  };
  const services: Record<string, number> = {};
  for (const l of leaderLog) if (l.event === 'service_started' && typeof l.name === 'string' && !(l.name in services)) services[l.name] = l.at - killWall;
  const saw = new Map<number, number>();
  for (const m of agentLines) if (typeof m.seen === 'number' && m.leader === newLeader && !saw.has(m.seen)) saw.set(m.seen, m.t! - killWall);
  const ok = new Map<number, { t0: number; t: number }>();
  const failed = new Map<number, number>();
  const failures: Record<string, number> = {};
  for (const m of agentLines) {
    if (typeof m.try !== 'number' || ok.has(m.try)) continue;
    if (m.status === 200) ok.set(m.try, { t0: m.t0! - killWall, t: m.t! - killWall });
    else {
      failed.set(m.try, (failed.get(m.try) ?? 0) + 1);
      const why = m.err ?? `HTTP ${m.status}`;
      failures[why] = (failures[why] ?? 0) + 1;
    }
  }
  const done = [...ok.values()].map((x) => x.t);
  const lat = [...ok.values()].map((x) => x.t - x.t0);
  const zk = leaderLog.find((l) => l.event === 'takeover_store_writes');
  const fails = [...ok.keys()].map((k) => failed.get(k) ?? 0);
  return {
    followerSaw: (() => {
      const l = followerLog.find((x) => x.event === 'leader_changed' && String(x.to).endsWith(`@${newLeader}`));
      return l ? l.at - killWall : NaN;
    })(),
    elected: at(leaderLog, 'master_elected'),
    stateLoaded: at(leaderLog, 'master_state_loaded'),
    listening: at(leaderLog, 'master_started'),
    services,
    leading: at(leaderLog, 'master_leading'),
    firstWrite: firstWriteMs,
    agentsSawMedian: percentile([...saw.values()], 50),
    agentsSawMax: Math.max(...saw.values()),
    agentFirst: Math.min(...done),
    agentMedian: percentile(done, 50),
    agentAll: Math.max(...done),
    attemptsFailedMean: fails.reduce((a, b) => a + b, 0) / Math.max(1, fails.length),
    failures,
    requestMedianMs: percentile(lat, 50),
    requestMaxMs: Math.max(...lat),
    ...(zk ? { zkWrites: { writes: Number(zk.writes), p50_ms: Number(zk.p50_ms), p99_ms: Number(zk.p99_ms), max_ms: Number(zk.max_ms), ...(zk.batches !== undefined ? { batches: Number(zk.batches), batched_puts: Number(zk.batched_puts) } : {}) } } : {}),
  };
}

/** One Markdown table: each step's p50 and p99 over the kills (ms after the kill, or a duration). */
export function breakdownTable(bs: Breakdown[]): string {
  if (!bs.length) return '';
  const s = (x: number) => (Number.isFinite(x) ? (x / 1000).toFixed(2) : '-');
  const row = (what: string, xs: number[]) => {
    const v = xs.filter(Number.isFinite);
    return `| ${what} | ${s(percentile(v, 50))} | ${s(percentile(v, 99))} | ${v.length} |`;
  };
  const names = [...new Set(bs.flatMap((b) => Object.keys(b.services)))];
  const failures: Record<string, number> = {};
  for (const b of bs) for (const [k, v] of Object.entries(b.failures)) failures[k] = (failures[k] ?? 0) + v;
  const zk = bs.map((b) => b.zkWrites).filter((z): z is NonNullable<Breakdown['zkWrites']> => !!z);
  return [
    '| step (s after kill -9 of the leader, unless a duration) | p50 s | p99 s | kills |',
    '| --- | ---: | ---: | ---: |',
    row('the surviving follower sees the new leader (session expired, znode gone)', bs.map((b) => b.followerSaw)),
    row('the new leader logs it is elected', bs.map((b) => b.elected)),
    row('the median agent sees the new leader (its ZooKeeper watch)', bs.map((b) => b.agentsSawMedian)),
    row('the last agent sees the new leader', bs.map((b) => b.agentsSawMax)),
    row('the new leader has loaded the state from ZooKeeper', bs.map((b) => b.stateLoaded)),
    row('its Mesos and Marathon ports listen', bs.map((b) => b.listening)),
    row('the first write is acknowledged', bs.map((b) => b.firstWrite)),
    row('the first agent re-registered', bs.map((b) => b.agentFirst)),
    row('the median agent re-registered', bs.map((b) => b.agentMedian)),
    row('every agent re-registered', bs.map((b) => b.agentAll)),
    ...names.map((n) => row(`service \`${n}\` started`, bs.map((b) => b.services[n] ?? NaN))),
    row('every service started (`master_leading`)', bs.map((b) => b.leading)),
    row('duration: an agent\'s successful registration request, median agent', bs.map((b) => b.requestMedianMs)),
    row('duration: an agent\'s successful registration request, slowest agent', bs.map((b) => b.requestMaxMs)),
    '',
    `Failed registration attempts before the successful one: ${(bs.reduce((a, b) => a + b.attemptsFailedMean, 0) / bs.length).toFixed(2)} per agent and kill (${Object.entries(failures).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}).`,
    zk.length
      ? `ZooKeeper writes of the new leader in its first 6 s (\`takeover_store_writes\`, each from its call to its commit), median over kills: ${percentile(zk.map((z) => z.writes), 50)} writes, p50 ${percentile(zk.map((z) => z.p50_ms), 50)} ms, p99 ${percentile(zk.map((z) => z.p99_ms), 50)} ms, max ${percentile(zk.map((z) => z.max_ms), 50)} ms${zk.some((z) => z.batches !== undefined) ? `; ${percentile(zk.map((z) => z.batched_puts ?? 0), 50)} of them group-committed in ${percentile(zk.map((z) => z.batches ?? 0), 50)} multi-ops` : ''}.`
      : 'ZooKeeper write latencies: not logged.',
    '',
  ].join('\n');
}
