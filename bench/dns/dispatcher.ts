/**
 * Dispatcher benchmark: dnsperf, in one run, against (a) a dnsmasq upstream directly, (b) the
 * dispatcher in front of it, (c) dnsmasq as a forwarder in front of the same upstream — with caches
 * on (as deployed) and off (pure forwarding) — plus local-zone answers, and the added latency p50
 * of one forwarding hop measured with sequential queries. Every process is killed at the end.
 */
import { nativeUdp } from '../../common/udp-batch.js';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forgetGroup, trackGroup } from '../lib/groups.js';
import { freePort, loopbackBlock, requireTools } from '../../test/lib/index.js';

const SECONDS = Number(process.env.SEXTANT_BENCH_SECONDS ?? 5);
const NAMES = 1000;
const LATENCY_QUERIES = 2000;

interface Proc {
  child: ChildProcess;
  out: () => string;
}

function start(cmd: string, args: string[], ready: RegExp, procs: Proc[]): Promise<Proc> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  trackGroup(child.pid);
  let out = '';
  const p = { child, out: () => out };
  procs.push(p);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready in 30 s:\n${out.slice(-1000)}`)), 30000);
    const on = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve(p);
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code}:\n${out.slice(-1000)}`)));
  });
}

function stopAll(procs: Proc[]): void {
  for (const p of procs) {
    try {
      forgetGroup(p.child.pid);
      if (p.child.pid && p.child.exitCode === null) process.kill(-p.child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

interface PerfResult {
  completed: number;
  qps: number;
  avgMs: number;
  lost: number;
  /** CPU time of the server process per completed query (µs): load-independent, unlike qps. */
  cpuUs: number;
}

const ROUNDS = Number(process.env.SEXTANT_BENCH_ROUNDS ?? 4);

/** utime+stime of a process and its children (a dispatcher's worker processes), in clock ticks (1/100 s). */
function cpuTicks(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    return Number(rest[11]) + Number(rest[12]) + kids.reduce((s, k) => s + (cpuTicks(k) || 0), 0);
  } catch {
    return NaN;
  }
}

/** dnsperf against a server process, also measuring that process's CPU per query. */
async function measure(bin: string, host: string, port: number, file: string, server: Proc): Promise<PerfResult> {
  const t0 = cpuTicks(server.child.pid);
  const r = await dnsperf(bin, host, port, file);
  r.cpuUs = ((cpuTicks(server.child.pid) - t0) * 10_000) / Math.max(1, r.completed);
  return r;
}

/** Sum of rounds: qps averaged, CPU per query weighted by queries. */
function combine(rs: PerfResult[]): PerfResult {
  const n = rs.length;
  const q = rs.reduce((s, r) => s + r.completed, 0);
  return {
    qps: rs.reduce((s, r) => s + r.qps, 0) / n,
    avgMs: rs.reduce((s, r) => s + r.avgMs, 0) / n,
    lost: rs.reduce((s, r) => s + r.lost, 0),
    cpuUs: rs.reduce((s, r) => s + r.cpuUs * r.completed, 0) / Math.max(1, q),
    completed: q,
  };
}

function dnsperf(bin: string, host: string, port: number, file: string): Promise<PerfResult & { completed: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ['-s', host, '-p', String(port), '-d', file, '-l', String(SECONDS), '-q', '200', '-t', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', () => {
      const qps = /Queries per second:\s+([\d.]+)/.exec(out);
      const lat = /Average Latency \(s\):\s+([\d.]+)/.exec(out);
      const lost = /Queries lost:\s+(\d+)/.exec(out);
      const completed = /Queries completed:\s+(\d+)/.exec(out);
      if (!qps || !lat) return reject(new Error(`dnsperf output not understood:\n${out.slice(-1500)}`));
      resolve({ qps: Number(qps[1]), avgMs: Number(lat[1]) * 1000, lost: Number(lost?.[1] ?? 0), completed: Number(completed?.[1] ?? 0), cpuUs: NaN });
    });
  });
}

function query(name: string, id: number): Buffer {
  const labels = name.split('.');
  const q = Buffer.concat([Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
  return q;
}

/** p50 of sequential UDP round trips (µs), distinct names so no cache helps. */
async function latencyP50(host: string, port: number, tag: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const times: number[] = [];
  try {
    for (let i = 0; i < LATENCY_QUERIES; i++) {
      const id = i & 0xffff;
      const t0 = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done() {
          clearTimeout(timer);
          s.off('message', on);
          resolve();
        }
        function on(m: Buffer) {
          if (m.readUInt16BE(0) === id) done();
        }
        s.on('message', on);
        s.send(query(`l${i}-${tag}.bench.test`, id), port, host);
      });
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
  } finally {
    s.close();
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

export async function benchDispatcher(): Promise<string> {
  const { dnsperf: perf, dnsmasq } = requireTools('dnsperf', 'dnsmasq');
  const ip = loopbackBlock();
  const dir = mkdtempSync(join(tmpdir(), 'sx-bench-dispatcher-'));
  const procs: Proc[] = [];
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const isTs = import.meta.url.endsWith('.ts');
  // SEXTANT_BENCH_DISPATCHER_HEAP=agent: the dispatcher with the agent process's V8 heap flags (agent/heap.ts).
  const asAgent = process.env.SEXTANT_BENCH_DISPATCHER_HEAP === 'agent';
  const main = asAgent ? (isTs ? 'bench/dns/agent-heap-main.ts' : 'bench/dns/agent-heap-main.js') : isTs ? 'cli/sextant.ts' : 'cli/sextant.js';
  const sextant = isTs ? ['--import', 'tsx', join(root, main)] : [join(root, main)];
  try {
    const fwdFile = join(dir, 'forward.txt');
    writeFileSync(fwdFile, Array.from({ length: NAMES }, (_, i) => `n${i}.bench.test A`).join('\n') + '\n');
    const localFile = join(dir, 'local.txt');
    writeFileSync(localFile, Array.from({ length: 100 }, (_, i) => `app${i}.marathon.l4lb.thisdcos.directory A`).join('\n') + '\n');
    const zones = join(dir, 'zones');
    writeFileSync(zones, Array.from({ length: 100 }, (_, i) => `app${i}.marathon.l4lb.thisdcos.directory A 11.0.0.${i + 1}`).join('\n') + '\n');

    const upPort = await freePort(ip(2));
    const dm = (listen: string, port: number, extra: string[]) => [`--no-daemon`, `--port=${port}`, `--listen-address=${listen}`, '--bind-interfaces', '--no-hosts', '--log-facility=-', '--user=root', `--pid-file=${join(dir, `${listen}.pid`)}`, ...extra];
    await start(dnsmasq!, dm(ip(2), upPort, ['--no-resolv', '--address=/bench.test/10.0.0.1', '--local-ttl=300']), /started, version/, procs);

    const cfg = (name: string, bind: string, cache: boolean, workers: number) => {
      const f = join(dir, `${name}.json`);
      writeFileSync(f, JSON.stringify({ upstream_resolvers: [`${ip(2)}:${upPort}`], bind_ips: [bind], udp_port: 0, tcp_port: 0, zone_file: zones, cache: { enabled: cache }, workers }));
      return f;
    };
    const port = (p: Proc) => Number(/udp:\/\/[\d.]+:(\d+)/.exec(p.out())![1]);
    const dispatcher = (name: string, bind: string, cache: boolean, workers: number) => start(process.execPath, [...sextant, 'dispatcher', '--config', cfg(name, bind, cache, workers)], /listening on/, procs);
    const dCached = await dispatcher('cached', ip(3), true, 2);
    const dPlain = await dispatcher('plain', ip(4), false, 1);
    const dPlain2 = await dispatcher('plain2', ip(7), false, 2);
    const fwdCachedPort = await freePort(ip(5));
    await start(dnsmasq!, dm(ip(5), fwdCachedPort, ['--no-resolv', `--server=${ip(2)}#${upPort}`, '--cache-size=10000']), /started, version/, procs);
    const fwdPlainPort = await freePort(ip(6));
    await start(dnsmasq!, dm(ip(6), fwdPlainPort, ['--no-resolv', `--server=${ip(2)}#${upPort}`, '--cache-size=0']), /started, version/, procs);

    const up = procs[0]!;
    const dmCached = procs[procs.length - 2]!;
    const dmPlain = procs[procs.length - 1]!;
    const load0 = loadavg()[0]!;
    // Rounds, each comparison pair back to back (order swapped every round), so both see the same load.
    const runs: Record<string, PerfResult[]> = { direct: [], dispCached: [], dnsmasqCached: [], dispPlain: [], dispPlain2: [], dnsmasqPlain: [], local: [], local2: [] };
    for (let i = 0; i < ROUNDS; i++) {
      const pairs: [string, () => Promise<PerfResult>][][] = [
        [['direct', () => measure(perf!, ip(2), upPort, fwdFile, up)]],
        [
          ['dispCached', () => measure(perf!, ip(3), port(dCached), fwdFile, dCached)],
          ['dnsmasqCached', () => measure(perf!, ip(5), fwdCachedPort, fwdFile, dmCached)],
        ],
        [
          ['dispPlain2', () => measure(perf!, ip(7), port(dPlain2), fwdFile, dPlain2)],
          ['dnsmasqPlain', () => measure(perf!, ip(6), fwdPlainPort, fwdFile, dmPlain)],
          ['dispPlain', () => measure(perf!, ip(4), port(dPlain), fwdFile, dPlain)],
        ],
        [
          ['local', () => measure(perf!, ip(4), port(dPlain), localFile, dPlain)],
          ['local2', () => measure(perf!, ip(3), port(dCached), localFile, dCached)],
        ],
      ];
      for (const pair of pairs) for (const [name, run] of i % 2 ? [...pair].reverse() : pair) runs[name]!.push(await run());
    }
    const load1 = loadavg()[0]!;
    const direct = combine(runs.direct!);
    const dispCached = combine(runs.dispCached!);
    const dnsmasqCached = combine(runs.dnsmasqCached!);
    const dispPlain = combine(runs.dispPlain!);
    const dispPlain2 = combine(runs.dispPlain2!);
    const dnsmasqPlain = combine(runs.dnsmasqPlain!);
    const local = combine(runs.local!);
    const local2 = combine(runs.local2!);
    const perRound = (a: string, b: string) => runs[a]!.map((r, i) => (r.qps / runs[b]![i]!.qps).toFixed(2)).join(', ');

    const p50Direct = await latencyP50(ip(2), upPort, 'a');
    const p50Disp = await latencyP50(ip(4), port(dPlain), 'b');
    const p50Dnsmasq = await latencyP50(ip(6), fwdPlainPort, 'c');

    const row = (name: string, r: PerfResult, base: PerfResult) =>
      `| ${name} | ${r.qps.toFixed(0)} | ${r.avgMs.toFixed(3)} | ${r.lost} | ${r.cpuUs.toFixed(2)} | ${(r.qps / base.qps).toFixed(2)} |`;
    return [
      '## Dispatcher (forwarding and local zones)',
      '',
      `dnsperf -l ${SECONDS} -q 200 over UDP on loopback; ${NAMES} distinct names under an upstream dnsmasq`,
      `(\`--address=/bench.test/...\`, local TTL 300). Dispatcher as its own \`sextant dispatcher\` daemon${asAgent ? ' started with the agent\'s V8 heap flags (agent/heap.ts: `--semi-space-growth-factor=1`, set at start as the agent does)' : ''}, one upstream;`,
      '`workers: 2` = the daemon plus one worker process answering on the same UDP sockets (dnsmasq is single-threaded).',
      `Client UDP: ${nativeUdp() ? 'the native batch socket (`native/udpbatch.c`: recvmmsg/sendmmsg, up to 64 datagrams per call)' : "Node's dgram sockets (the native module is not built here)"}; upstream UDP: dgram.`,
      `${ROUNDS} rounds, each pair back to back (order alternating); figures are the mean over rounds.`,
      `Load average (1 min) ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end, on ${cpus().length} CPUs shared with dnsperf and the upstream.`,
      'CPU µs/query: user+system time of the server process per completed query (independent of how busy the machine is).',
      '',
      '| target | queries/s | avg latency ms | lost | CPU µs/query | ratio vs dnsmasq forwarder (same cache mode) |',
      '| --- | --- | --- | --- | --- | --- |',
      row('(a) upstream dnsmasq directly', direct, dnsmasqCached),
      row('(b) dispatcher -> upstream, cache on, workers: 2', dispCached, dnsmasqCached),
      row('(c) dnsmasq forwarder -> upstream, cache-size 10000', dnsmasqCached, dnsmasqCached),
      row('(b) dispatcher -> upstream, cache off, workers: 2', dispPlain2, dnsmasqPlain),
      row('(b) dispatcher -> upstream, cache off, workers: 1 (one process)', dispPlain, dnsmasqPlain),
      row('(c) dnsmasq forwarder -> upstream, cache-size 0', dnsmasqPlain, dnsmasqPlain),
      `| dispatcher local zone (100 VIP names), workers: 1 | ${local.qps.toFixed(0)} | ${local.avgMs.toFixed(3)} | ${local.lost} | ${local.cpuUs.toFixed(2)} | target >= 45000 |`,
      `| dispatcher local zone (100 VIP names), workers: 2 | ${local2.qps.toFixed(0)} | ${local2.avgMs.toFixed(3)} | ${local2.lost} | ${local2.cpuUs.toFixed(2)} | ${(local2.qps / local.qps).toFixed(2)}x one process |`,
      '',
      `Per-round throughput ratios, dispatcher / dnsmasq: cache on (2 workers) ${perRound('dispCached', 'dnsmasqCached')}; cache off, 2 workers ${perRound('dispPlain2', 'dnsmasqPlain')}; cache off, one process ${perRound('dispPlain', 'dnsmasqPlain')}.`,
      `CPU per query ratio, dnsmasq / dispatcher (higher is better for the dispatcher; all processes of the dispatcher counted): cache on ${(dnsmasqCached.cpuUs / dispCached.cpuUs).toFixed(2)}, cache off ${(dnsmasqPlain.cpuUs / dispPlain2.cpuUs).toFixed(2)} (2 workers) / ${(dnsmasqPlain.cpuUs / dispPlain.cpuUs).toFixed(2)} (one process).`,
      '',
      `Added latency of one forwarding hop, p50 of ${LATENCY_QUERIES} sequential uncached queries:`,
      '',
      '| path | p50 µs | added vs direct µs |',
      '| --- | --- | --- |',
      `| upstream directly | ${p50Direct.toFixed(0)} | |`,
      `| dispatcher (cache off) | ${p50Disp.toFixed(0)} | ${(p50Disp - p50Direct).toFixed(0)} (target < 200) |`,
      `| dnsmasq forwarder (cache off) | ${p50Dnsmasq.toFixed(0)} | ${(p50Dnsmasq - p50Direct).toFixed(0)} |`,
      '',
    ].join('\n');
  } finally {
    stopAll(procs);
    rmSync(dir, { recursive: true, force: true });
  }
}
