/**
 * The cost of the VIP metrics (issue #28) on the data plane: connection rate (wrk, `Connection:
 * close`) and throughput (iperf3) through a VIP with metrics off and on, in alternating pairs of
 * the same run, for the nftables driver (two namespaces on a veth; metrics on = the metrics table
 * installed, off = removed, same driver and VIPs) and the userspace proxy (loopback; two drivers in
 * this process, one with metrics and one without, same backends). Target: under 3% lower with on.
 */
import { randomInt } from 'node:crypto';
import { createLogger } from '../../common/log.js';
import { NftablesDriver } from '../../l4lb/nft/driver.js';
import { nftRunner } from '../../l4lb/nft/exec.js';
import { UserspaceDriver } from '../../l4lb/userspace/driver.js';
import { NftCounters } from '../../l4lb/vipmetrics/nft-counters.js';
import { which } from '../../test/lib/require.js';
import { withNetns } from '../l4lb/index.js';
import { nsExec } from '../l4lb/procs.js';
import { WRK_SECONDS, httpServer, iperf, iperfServer, withProcs, wrk } from '../l4lb/traffic.js';
import { alternate, type Pair } from '../lib/pairs.js';
import { median, pairedRatio } from '../lib/stats.js';
import { stealNote } from '../lib/steal.js';
import { runAsync } from '../l4lb/procs.js';

/**
 * CPU per packet of a sender pushing UDP datagrams through a VIP (python3, a connected socket):
 * the output hook (NAT, the metrics chain) runs in the sender's system call, so its system time
 * per packet is the kernel's cost, measured in CPU time rather than rate (robust to a busy machine).
 */
const SENDER = `import socket, os, sys, json
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((host, port)); b = b'x' * 64
t0 = os.times()
for i in range(n):
    try: s.send(b)
    except OSError: pass
t1 = os.times()
print(json.dumps({"sys": (t1.system - t0.system) / n * 1e6, "user": (t1.user - t0.user) / n * 1e6}))`;
const PACKETS = 200_000;

const quiet = createLogger('vip-metrics-bench');
const RUNS = Number(process.env.VIPMETRICS_BENCH_RUNS ?? 7);

const f2 = (x: number) => x.toFixed(2);
const list = (xs: number[], d: number) => xs.map((x) => x.toFixed(d)).join(' / ');

function row(driver: string, what: string, p: Pair, digits: number): string {
  const off = median(p.direct);
  const on = median(p.via);
  const per = pairedRatio(p.direct, p.via);
  return `| ${driver} | ${what} | ${off.toFixed(digits)} (${list(p.direct, digits)}) | ${on.toFixed(digits)} (${list(p.via, digits)}) | ${f2(on / off)} | **${f2(per)}** (${f2((1 - per) * 100)}% lower) |`;
}

interface Result {
  rows: string[];
  notes: string[];
}

async function nftables(): Promise<Result> {
  return withNetns((srv) =>
    withNetns(async (cli) => {
      // Address plan: veth 10.79.0.1 (server ns) <-> 10.79.0.3 (client ns, the driver); VIP 11.0.0.1.
      for (const ns of [srv, cli]) nsExec(ns, 'ip', 'link', 'set', 'lo', 'up');
      nsExec(srv, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', cli);
      nsExec(srv, 'ip', 'addr', 'add', '10.79.0.1/24', 'dev', 'eth0');
      nsExec(cli, 'ip', 'addr', 'add', '10.79.0.3/24', 'dev', 'eth0');
      for (const ns of [srv, cli]) nsExec(ns, 'ip', 'link', 'set', 'eth0', 'up');
      nsExec(cli, 'ip', 'route', 'add', 'default', 'dev', 'eth0');
      nsExec(cli, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000');
      const d = new NftablesDriver({ netns: cli, log: quiet, metrics: true });
      await d.start();
      const counters = new NftCounters(nftRunner({ netns: cli }), d.table);
      const b = '10.79.0.1';
      await d.apply([
        { key: 'tcp/11.0.0.1:5201', vip: '11.0.0.1', port: 5201, protocol: 'tcp', backends: [{ ip: b, port: 5201, weight: 1 }] },
        { key: 'tcp/11.0.0.1:8080', vip: '11.0.0.1', port: 8080, protocol: 'tcp', backends: [{ ip: b, port: 8080, weight: 1 }] },
        // Datagrams for the CPU-per-packet runs (nothing listens: the server's kernel drops them).
        { key: 'udp/11.0.0.1:9000', vip: '11.0.0.1', port: 9000, protocol: 'udp', backends: [{ ip: b, port: 9000, weight: 1 }] },
      ]);
      const perPacket = async () => {
        const out = await runAsync(['ip', 'netns', 'exec', cli, 'python3', '-c', SENDER, '11.0.0.1', '9000', String(PACKETS)], 120_000);
        return (JSON.parse(out) as { sys: number }).sys;
      };
      let errors = 0;
      const rate = async () => {
        const r = await wrk(cli, 'http://11.0.0.1:8080/');
        errors += r.errors;
        return r.rps;
      };
      let seen: { connections?: number; bytes?: number } | undefined;
      const off = (fn: () => Promise<number>) => async () => (await counters.remove(), fn());
      const on = (fn: () => Promise<number>) => async () => {
        await counters.install();
        const v = await fn();
        seen = (await d.netMetrics())?.vips.find((x) => x.backends[0]?.connections)?.backends[0];
        return v;
      };
      try {
        return await withProcs([iperfServer(srv, b, 5201), httpServer(srv, b, 8080)], async () => {
          const conn = await alternate(RUNS, off(rate), on(rate));
          const tput = await alternate(RUNS, off(async () => (await iperf(cli, '11.0.0.1', 5201)).gbps), on(async () => (await iperf(cli, '11.0.0.1', 5201)).gbps));
          const cpu = await alternate(RUNS, off(perPacket), on(perPacket));
          const [cOff, cOn] = [median(cpu.direct), median(cpu.via)];
          return {
            rows: [row('nftables', 'connections/s', conn, 0), row('nftables', 'Gbit/s', tput, 2)],
            notes: [
              `- nftables kernel CPU per packet (system time of a sender pushing ${PACKETS.toLocaleString('en')} 64-byte UDP datagrams through the VIP per run, the output hook runs in its system call; median of ${RUNS} alternating pairs): metrics off ${cOff.toFixed(2)} µs, on ${cOn.toFixed(2)} µs, **+${(cOn - cOff).toFixed(2)} µs per packet** (per pair ${f2(pairedRatio(cpu.direct, cpu.via))}x; runs off: ${list(cpu.direct, 2)}; on: ${list(cpu.via, 2)}).`,
              `- nftables: the last "on" iperf3 run was counted by the kernel (${seen?.connections ?? 0} connections, ${((seen?.bytes ?? 0) / 1e9).toFixed(2)} GB with the backend); wrk socket errors over all runs: ${errors}; steal: wrk ${stealNote(conn.steal)}, iperf3 ${stealNote(tput.steal)}.`,
            ],
          };
        });
      } finally {
        await d.stop();
      }
    }),
  );
}

async function userspace(): Promise<Result> {
  const a = randomInt(1, 250);
  // Address plan: server 127.a.10.1, proxy without metrics .2, proxy with metrics .3, client .4.
  const [srv, offIp, onIp, cliIp] = [1, 2, 3, 4].map((h) => `127.${a}.10.${h}`) as [string, string, string, string];
  const port = 20000 + randomInt(0, 20000);
  const svcs = [
    { key: `tcp/11.0.0.1:${port}`, vip: '11.0.0.1', port, protocol: 'tcp' as const, backends: [{ ip: srv, port, weight: 1 }] },
    { key: `tcp/11.0.0.1:${port + 1}`, vip: '11.0.0.1', port: port + 1, protocol: 'tcp' as const, backends: [{ ip: srv, port: port + 1, weight: 1 }] },
  ];
  const offD = new UserspaceDriver({ listenAddress: (s) => ({ host: offIp, port: s.port }), log: quiet, metrics: false });
  const onD = new UserspaceDriver({ listenAddress: (s) => ({ host: onIp, port: s.port }), log: quiet, metrics: true });
  let errors = 0;
  // CPU this process (both proxies, their relay thread) spent per connection: robust to a busy machine.
  const usPerConn: Record<string, number[]> = { [offIp]: [], [onIp]: [] };
  const rate = (host: string) => async () => {
    const c0 = process.cpuUsage();
    const r = await wrk(undefined, `http://${host}:${port + 1}/`);
    const c = process.cpuUsage(c0);
    usPerConn[host]!.push((c.user + c.system) / (r.rps * WRK_SECONDS));
    errors += r.errors;
    return r.rps;
  };
  const bw = (host: string) => async () => (await iperf(undefined, host, port, cliIp)).gbps;
  try {
    for (const d of [offD, onD]) {
      await d.start();
      await d.apply(svcs);
    }
    return await withProcs([iperfServer(undefined, srv, port), httpServer(undefined, srv, port + 1)], async () => {
      const conn = await alternate(RUNS, rate(offIp), rate(onIp));
      const tput = await alternate(RUNS, bw(offIp), bw(onIp));
      const m = await onD.netMetrics();
      const seen = m?.vips.find((v) => v.vip === `11.0.0.1:${port + 1}/tcp`)?.backends[0];
      return {
        rows: [row('userspace (native relay)', 'connections/s', conn, 0), row('userspace (native relay)', 'Gbit/s', tput, 2)],
        notes: [
          `- userspace CPU per connection (this process: the proxy and its relay thread; median of the wrk runs): metrics off ${median(usPerConn[offIp]!).toFixed(1)} µs, on ${median(usPerConn[onIp]!).toFixed(1)} µs (runs off: ${list(usPerConn[offIp]!, 1)}; on: ${list(usPerConn[onIp]!, 1)}).`,
          `- userspace: the proxy with metrics counted ${seen?.connections ?? 0} connections to the HTTP backend ; wrk socket errors over all runs: ${errors}; steal: wrk ${stealNote(conn.steal)}, iperf3 ${stealNote(tput.steal)}.`,
        ],
      };
    });
  } finally {
    await offD.stop();
    await onD.stop();
  }
}

export async function bench(): Promise<string> {
  const missing = ['iperf3', 'wrk', 'nft'].filter((t) => !which(t));
  if (missing.length) throw new Error(`${missing.join(', ')} missing (apt-get install ${missing.join(' ')})`);
  const parts = [await nftables(), await userspace()];
  return [
    `## Cost of the VIP metrics: metrics off vs on, same run (${RUNS} pairs each)`,
    '',
    'Pairs alternate which side goes first. "on / off": the ratio of the medians; "per pair": the median of each pair\'s on/off ratio (drift in machine load cancels). Target (issue #28): under 3% lower with metrics on.',
    '',
    '| driver | figure | metrics off (runs) | metrics on (runs) | on / off | per pair |',
    '| --- | --- | --- | --- | --- | --- |',
    ...parts.flatMap((p) => p.rows),
    '',
    '- wrk: `-t 1 -c 16`, `Connection: close` (one new TCP connection per request), 3 s a run; iperf3: one TCP stream, 5 s a run. Servers: one Node HTTP process, iperf3.',
    '- nftables: the VIP in the client\'s namespace (output DNAT), the backend across a veth; "on" installs the metrics table (`inet sextant_l4lb_metrics`: counting chains after NAT, dynamic sets with counters), "off" removes it. Same driver, same VIPs.',
    '- userspace: two proxies in this process on loopback addresses, one with `metrics: false`, same backend servers.',
    ...parts.flatMap((p) => p.notes),
    '',
  ].join('\n');
}
