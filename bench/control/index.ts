/**
 * Control-plane benchmark: one master process, N simulated agents (ControlClients sharing this
 * process, over up to 1,000 TCP connections). Per N: connect all, then change one VIP backend
 * CHANGES times and measure change-to-applied on every agent (p50/p99/max), the master's CPU time
 * per change, master RSS per connected agent and the bytes of one delta vs a full snapshot.
 * Peer: DC/OS Lashup/Minuteman VIP propagation, ~2-11 s to reach every node (DESIGN.md sect. 5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../../common/log.js';
import { ControlClient } from '../../control/client.js';
import type { SnapshotConsumer } from '../../contracts/index.js';
import { SimAgents } from './sim.js';
import { percentile } from '../lib/stats.js';

const SIZES = (process.env.BENCH_CONTROL_N ?? '100,1000,10000').split(',').map(Number);
/** Real ControlClients (grpc-js) up to this N; lightweight simulated agents for every N. */
const REAL_CLIENTS_UP_TO = Number(process.env.BENCH_CONTROL_REAL_N ?? 1000);
const CHANGES = 5;
const MAX_CONNECTIONS = 1000;
const DCOS_PEER_MS = { best: 2000, worst: 11000 };

class MasterProc {
  private lines: AsyncIterator<string>;
  constructor(readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }
  static start(): MasterProc {
    const here = dirname(fileURLToPath(import.meta.url));
    const ts = import.meta.url.endsWith('.ts');
    const file = join(here, ts ? 'master.ts' : 'master.js');
    const args = ts ? ['--import', 'tsx', '--expose-gc', file] : ['--expose-gc', file];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, SEXTANT_LOG_LEVEL: 'error' } });
    return new MasterProc(child);
  }
  async read<T>(): Promise<T> {
    const r = await this.lines.next();
    if (r.done) throw new Error('bench master exited');
    return JSON.parse(r.value) as T;
  }
  async ask<T>(op: string): Promise<T> {
    this.child.stdin!.write(JSON.stringify({ op }) + '\n');
    return this.read<T>();
  }
  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const pct = percentile;

interface Row {
  n: number;
  kind: Kind;
  connectS: number;
  p50: number;
  p99: number;
  max: number;
  cpuMs: number;
  rssPerAgentKiB: number;
  deltaBytes: number;
  fullBytes: number;
  error?: string;
}

type Kind = 'ControlClient' | 'simulated';

async function runSize(n: number, kind: Kind): Promise<Row> {
  const master = MasterProc.start();
  const clients: ControlClient[] = [];
  let sim: SimAgents | undefined;
  try {
    const { port } = await master.read<{ port: number; rss: number }>();
    const base = await master.ask<{ rss: number }>('rss');
    const applied = new Map<number, number[]>(); // version -> apply times
    let waiters: { version: number; resolve: () => void }[] = [];
    const consumer = (): SnapshotConsumer => ({
      name: 'l4lb',
      parts: ['vips'],
      async apply(view) {
        record(view.version);
      },
    });
    const record = (version: number) => {
      const times = applied.get(version) ?? [];
      times.push(performance.now());
      applied.set(version, times);
      if (times.length === n) for (const w of waiters.filter((w) => w.version === version)) w.resolve();
    };
    const log = createLogger('control-bench');
    const t0 = performance.now();
    if (kind === 'simulated') {
      sim = new SimAgents(`127.0.0.1:${port}`, (_i, u) => record(u.version));
      for (let i = 0; i < n; i++) {
        sim.add(i, Math.min(n, MAX_CONNECTIONS));
        if (i % 500 === 499) await new Promise((r) => setImmediate(r));
      }
    }
    for (let i = 0; kind === 'ControlClient' && i < n; i++) {
      const c = new ControlClient({
        agentId: `bench-agent-${i}`,
        masters: [`127.0.0.1:${port}`],
        consumers: [consumer()],
        log,
        channelOptions: { 'sextant.bench.conn': i % MAX_CONNECTIONS },
      });
      clients.push(c);
      await c.start();
      if (i % 500 === 499) await new Promise((r) => setImmediate(r)); // let the event loop breathe
    }
    const allAt = (version: number, timeoutMs: number) =>
      new Promise<void>((resolve, reject) => {
        if ((applied.get(version)?.length ?? 0) >= n) return resolve();
        const timer = setTimeout(() => reject(new Error(`only ${applied.get(version)?.length ?? 0}/${n} agents applied version ${version} in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ version, resolve: () => (clearTimeout(timer), resolve()) });
      });
    await allAt(1, 120_000);
    const connectS = (performance.now() - t0) / 1000;
    const connected = await master.ask<{ rss: number; streams: number }>('rss');
    const lat: number[] = [];
    let cpuMs = 0;
    let deltaBytes = 0;
    let fullBytes = 0;
    // Change 0 warms up (JIT, GC after the connect storm) and is not counted.
    for (let k = 0; k <= CHANGES; k++) {
      const start = performance.now();
      const r = await master.ask<{ version: number; delta_bytes: number; full_bytes: number }>('change');
      await allAt(r.version, 30_000);
      if (k > 0) lat.push(...applied.get(r.version)!.map((t) => t - start));
      deltaBytes = r.delta_bytes;
      fullBytes = r.full_bytes;
      let rep = await master.ask<{ acked: number; cpu_ms: number }>('report');
      for (let i = 0; i < 100 && rep.acked < n; i++) {
        await new Promise((res) => setTimeout(res, 20));
        rep = await master.ask<{ acked: number; cpu_ms: number }>('report');
      }
      if (k > 0) cpuMs += rep.cpu_ms;
      waiters = [];
    }
    return {
      n,
      kind,
      connectS,
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      max: Math.max(...lat),
      cpuMs: cpuMs / CHANGES,
      rssPerAgentKiB: (connected.rss - base.rss) / n / 1024,
      deltaBytes,
      fullBytes,
    };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    sim?.close();
    master.stop();
  }
}

export async function bench(): Promise<string> {
  const rows: Row[] = [];
  const plan: [number, Kind][] = [];
  for (const n of SIZES) {
    plan.push([n, 'simulated']);
    if (n <= REAL_CLIENTS_UP_TO) plan.push([n, 'ControlClient']);
  }
  for (const [n, kind] of plan) {
    try {
      rows.push(await runSize(n, kind));
    } catch (e) {
      rows.push({ n, kind, connectS: NaN, p50: NaN, p99: NaN, max: NaN, cpuMs: NaN, rssPerAgentKiB: NaN, deltaBytes: NaN, fullBytes: NaN, error: (e as Error).message });
    }
  }
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const lines = [
    `One master process; N agents in one other process over min(N, ${MAX_CONNECTIONS}) TCP connections; one VIP backend`,
    `changed ${CHANGES} times per N in a 200-VIP snapshot; latency = change sent to the master until each agent decoded`,
    "(simulated: raw HTTP/2 + protobuf, then ACK) or applied it (ControlClient: grpc-js, held view, consumer, then ACK).",
    'Both sides share this 2-core machine, so the agents process competes with the master for CPU.',
    'Peer: DC/OS VIP propagation via Lashup/Minuteman, 2-11 s to every node.',
    '',
    '| agents | kind | connect all (s) | p50 ms | p99 ms | max ms | vs DC/OS best (2 s) at p99 | master CPU ms/change | master RSS KiB/agent | delta bytes | full snapshot bytes |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) =>
      r.error
        ? `| ${r.n} | ${r.kind} | failed: ${r.error} | | | | | | | | |`
        : `| ${r.n} | ${r.kind} | ${f(r.connectS)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} | ${f(DCOS_PEER_MS.best / r.p99)}x faster | ${f(r.cpuMs)} | ${f(r.rssPerAgentKiB)} | ${r.deltaBytes} | ${r.fullBytes} |`,
    ),
    '',
    'Targets (issue 5): 1,000 agents p99 < 500 ms; 10,000 agents with master RSS < 1.5 GB; delta O(change).',
  ];
  return lines.join('\n');
}
