/**
 * Mesos-DNS benchmark: dnsperf against Sextant Mesos-DNS and against dnsmasq serving the same
 * names from a hosts file, in the same run (ratio); p99 latency at 10k queries/s from dnsperf's
 * per-query output; record regeneration time for 10,000 tasks. Every run is bounded (-l).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../common/metrics.js';
import { freePort, loopbackBlock, requireTools } from '../../test/lib/index.js';
import { MesosDns, parseConfig, generateRecords, parseState } from '../mesos/index.js';

const APPS = 1000;
const TASKS = 10_000;
const SECONDS = Number(process.env.SEXTANT_BENCH_SECONDS ?? 10);

/** A master state with `n` running tasks of `apps` Marathon apps on 100 agents. */
export function bigState(n: number, apps: number): Record<string, unknown> {
  const slaves = Array.from({ length: 100 }, (_, i) => ({ id: `S-${i}`, pid: `slave(1)@10.${i >> 8}.${i & 255}.1:5051` }));
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: `app${i % apps}.${i}-uuid`, name: `app${i % apps}`, slave_id: `S-${i % 100}`, state: 'TASK_RUNNING',
    statuses: [{ state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: `9.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] }] } }],
    resources: { ports: `[${31000 + (i % 1000)}-${31000 + (i % 1000)}]` },
  }));
  return { leader: 'master@10.255.0.1:5050', slaves, frameworks: [{ name: 'marathon', pid: 'scheduler@10.255.0.1:8080', tasks }] };
}

function regeneration(): { median: number; cpu: number; records: number } {
  const state = bigState(TASKS, APPS);
  const cfg = { domain: 'mesos', soaMname: 'ns1.mesos.', listener: '127.0.0.1', masters: ['10.255.0.1:5050'], ipSources: ['netinfo', 'mesos', 'host'], enforceRFC952: false };
  const times: number[] = [];
  const cpu: number[] = [];
  let records = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const rs = generateRecords(parseState(state), cfg);
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
    records = rs.size();
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { median: times[3]!, cpu: cpu[3]!, records };
}

interface Perf {
  qps: number;
  lost: number;
  avgMs: number;
  p99Ms?: number;
}

async function dnsperf(bin: string, ip: string, port: number, file: string, extra: string[], verboseOut?: string): Promise<Perf> {
  const fd = verboseOut ? openSync(verboseOut, 'w') : 'pipe';
  const args = ['-s', ip, '-p', String(port), '-d', file, '-l', String(SECONDS), '-c', '4', '-q', '200', ...extra, ...(verboseOut ? ['-v'] : [])];
  const child = spawn(bin, args, { stdio: ['ignore', fd, 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  await new Promise((r) => child.on('exit', r));
  if (typeof fd === 'number') closeSync(fd);
  const text = verboseOut ? readFileSync(verboseOut, 'utf8') : out;
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const res: Perf = { qps: num(/Queries per second:\s+([\d.]+)/), lost: num(/Queries lost:\s+(\d+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000 };
  if (verboseOut) {
    const lat: number[] = [];
    for (const line of text.split('\n')) {
      if (!line.startsWith('>')) continue;
      const v = Number(line.trim().split(/\s+/).pop());
      if (Number.isFinite(v)) lat.push(v);
    }
    lat.sort((a, b) => a - b);
    if (lat.length) res.p99Ms = lat[Math.floor(lat.length * 0.99)]! * 1000;
  }
  if (!Number.isFinite(res.qps)) throw new Error(`dnsperf output not understood:\n${out.slice(-1000)}`);
  return res;
}

export async function bench(): Promise<string> {
  const tools = requireTools('dnsperf', 'dnsmasq');
  const regen = regeneration();
  const block = loopbackBlock();
  const dir = mkdtempSync(join(tmpdir(), 'sx-mdns-bench-'));
  const stops: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const ip = block(1);
    const { config } = parseConfig({ Masters: ['10.255.0.1:5050'], Listener: ip, HTTPListener: ip, Port: await freePort(ip), HttpPort: await freePort(ip), ExternalOn: false });
    const dns = new MesosDns({ config, registry: createRegistry() });
    await dns.start();
    stops.push(() => dns.stop());
    await dns.setState(bigState(TASKS, APPS));
    const rs = dns.records()!;
    const names = [...rs.a.keys()].filter((n) => /^app\d+\.marathon\.mesos$/.test(n)).slice(0, APPS);
    const hosts = names.map((n) => `${[...rs.a.get(n)!][0]} ${n}`).join('\n') + '\n';
    writeFileSync(join(dir, 'hosts'), hosts);
    writeFileSync(join(dir, 'queries'), names.map((n) => `${n} A`).join('\n') + '\n');
    const dmIp = block(2);
    const dmPort = await freePort(dmIp);
    const dm = spawn(tools.dnsmasq!, ['--no-daemon', `--port=${dmPort}`, `--listen-address=${dmIp}`, '--bind-interfaces', '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`, '--cache-size=10000', `--pid-file=${join(dir, 'pid')}`, '--log-facility=-'], { stdio: 'ignore' });
    stops.push(() => dm.kill('SIGTERM'));
    await new Promise((r) => setTimeout(r, 500));
    const q = join(dir, 'queries');
    const ours = await dnsperf(tools.dnsperf!, ip, dns.dnsPort(), q, []);
    const theirs = await dnsperf(tools.dnsperf!, dmIp, dmPort, q, []);
    const oursLat = await dnsperf(tools.dnsperf!, ip, dns.dnsPort(), q, ['-Q', '10000'], join(dir, 'v1'));
    const theirsLat = await dnsperf(tools.dnsperf!, dmIp, dmPort, q, ['-Q', '10000'], join(dir, 'v2'));
    let dmVersion = '';
    try {
      dmVersion = execFileSync(tools.dnsmasq!, ['--version'], { encoding: 'utf8' }).split('\n')[0]!;
    } catch {
      /* version only for the report */
    }
    const f = (n: number | undefined, d = 0) => (n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));
    return [
      '## Mesos-DNS',
      '',
      `dnsperf, ${SECONDS} s per run, 4 clients, 200 outstanding, UDP on loopback, ${names.length} distinct A names (\`appN.marathon.mesos\`), same names in both servers. Peer: ${dmVersion || 'dnsmasq'} (hosts file).`,
      '',
      '| server | queries/s (unlimited) | lost | avg latency ms | at -Q 10000: queries/s | avg ms | p99 ms |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| Sextant Mesos-DNS | ${f(ours.qps)} | ${ours.lost} | ${f(ours.avgMs, 3)} | ${f(oursLat.qps)} | ${f(oursLat.avgMs, 3)} | ${f(oursLat.p99Ms, 3)} |`,
      `| dnsmasq | ${f(theirs.qps)} | ${theirs.lost} | ${f(theirs.avgMs, 3)} | ${f(theirsLat.qps)} | ${f(theirsLat.avgMs, 3)} | ${f(theirsLat.p99Ms, 3)} |`,
      '',
      `Ratio Sextant / dnsmasq (throughput): **${(ours.qps / theirs.qps).toFixed(2)}**. Targets: >= 45k q/s, p99 < 1 ms at 10k q/s.`,
      '',
      `Record regeneration for ${TASKS} tasks (${APPS} apps, 100 agents; parse + generate, median of 7): **${regen.median.toFixed(1)} ms** wall, ${regen.cpu.toFixed(1)} ms CPU, for ${regen.records} records (target < 200 ms). Load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(' / ')} on ${cpus().length} cores (shared machine: wall times inflate with load).`,
      '',
    ].join('\n');
  } finally {
    for (const s of stops.reverse()) await s();
  }
}
