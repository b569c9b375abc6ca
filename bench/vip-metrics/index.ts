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
import { nftRunner, sysctlReader, sysctlWriter } from '../../l4lb/nft/exec.js';
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

/**
 * CPU per connection of a client opening and closing TCP connections to a VIP one after another
 * (python3): the SYN's output hook (NAT, the metrics chain and set update) runs in its system
 * call, and on a veth the handshake's replies are processed in it too (softirq on the same CPU).
 * Destroy events are sent later, by conntrack's garbage collector (not in this figure; the agent's
 * share of reading them is the "this process" figure).
 */
const CONNECTOR = `import socket, os, sys, json
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = os.times(); bad = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try: s.connect((host, port))
    except OSError: bad += 1
    s.close()
t1 = os.times()
print(json.dumps({"sys": (t1.system - t0.system) / n * 1e6, "user": (t1.user - t0.user) / n * 1e6, "bad": bad}))`;
const CONNECTIONS = 20_000;

/**
 * Ends every connection of the namespace at once (a ctnetlink flush, IPCTNL_MSG_CT_DELETE with no
 * tuple): conntrack sends their destroy events inside this process's system call (the garbage
 * collector would send the same events over seconds, from a kernel thread). Its system time is the
 * kernel's cost of building and delivering them (with the filter: building them and running it).
 */
const FLUSHER = `import socket, struct, os, json
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); s.bind((0, 0))
t0 = os.times()
s.sendto(struct.pack('<IHHIIBBH', 20, (1 << 8) | 2, 5, 1, 0, 0, 0, 0), (0, 0)); s.recv(65536)
t1 = os.times()
print(json.dumps({"sys": t1.system - t0.system}))`;
/** Connections straight to the backend (not through a VIP) a run of the non-VIP figure makes. */
const NON_VIP = 20_000;

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
      // The driver without metrics; the bench installs and removes them (table, accounting, conntrack sockets) itself.
      const d = new NftablesDriver({ netns: cli, log: quiet, metrics: false });
      await d.start();
      // Closed connections leave conntrack within seconds (not 120 s of TIME_WAIT): their destroy events are read during the runs, off and on alike.
      nsExec(cli, 'sysctl', '-qw', 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=2');
      const counters = new NftCounters(nftRunner({ netns: cli }), d.table, {
        log: quiet,
        conntrack: { nsPath: `/run/netns/${cli}`, sysctl: { read: sysctlReader({ netns: cli }), write: sysctlWriter({ netns: cli }) } },
      });
      // The same reader without the event filter (before #28's filter): every connection's destroy event reaches this process.
      const unfiltered = new NftCounters(nftRunner({ netns: cli }), d.table, {
        log: quiet,
        conntrack: { nsPath: `/run/netns/${cli}`, eventFilter: false, sysctl: { read: sysctlReader({ netns: cli }), write: sysctlWriter({ netns: cli }) } },
      });
      const acct = () => nsExec(cli, 'sysctl', '-n', 'net.netfilter.nf_conntrack_acct').trim();
      const b = '10.79.0.1';
      const services = [
        { key: 'tcp/11.0.0.1:5201', vip: '11.0.0.1', port: 5201, protocol: 'tcp' as const, backends: [{ ip: b, port: 5201, weight: 1 }] },
        { key: 'tcp/11.0.0.1:8080', vip: '11.0.0.1', port: 8080, protocol: 'tcp' as const, backends: [{ ip: b, port: 8080, weight: 1 }] },
        // Datagrams for the CPU-per-packet runs (nothing listens: the server's kernel drops them).
        { key: 'udp/11.0.0.1:9000', vip: '11.0.0.1', port: 9000, protocol: 'udp' as const, backends: [{ ip: b, port: 9000, weight: 1 }] },
      ];
      await d.apply(services);
      const perPacket = async () => {
        const out = await runAsync(['ip', 'netns', 'exec', cli, 'python3', '-c', SENDER, '11.0.0.1', '9000', String(PACKETS)], 120_000);
        return (JSON.parse(out) as { sys: number }).sys;
      };
      let connectErrors = 0;
      const perConnection = async () => {
        const out = await runAsync(['ip', 'netns', 'exec', cli, 'python3', '-c', CONNECTOR, '11.0.0.1', '8080', String(CONNECTIONS)], 120_000);
        const r = JSON.parse(out) as { sys: number; user: number; bad: number };
        connectErrors += r.bad;
        return r.sys;
      };
      // This process's CPU per connection that is not to a VIP (metrics on): the conntrack event
      // socket unfiltered (before) or filtered (after); the kernel's share in the flusher's system time.
      const nonVip = { kernelUs: { before: [] as number[], after: [] as number[] }, events: { before: [] as number[], after: [] as number[] }, bad: 0 };
      const perNonVip = (which: 'before' | 'after') => async () => {
        const [c, other] = which === 'before' ? [unfiltered, counters] : [counters, unfiltered];
        await other.close();
        await c.install();
        const read0 = c.conntrackEvents?.eventsRead ?? 0;
        const c0 = process.cpuUsage();
        const r = JSON.parse(await runAsync(['ip', 'netns', 'exec', cli, 'python3', '-c', CONNECTOR, b, '8080', String(NON_VIP)], 120_000)) as { bad: number };
        const f = JSON.parse(await runAsync(['ip', 'netns', 'exec', cli, 'python3', '-c', FLUSHER], 60_000)) as { sys: number };
        // Three drain periods (250 ms): what the flush queued is read.
        await new Promise((resolve) => setTimeout(resolve, 750));
        const used = process.cpuUsage(c0);
        nonVip.bad += r.bad;
        nonVip.kernelUs[which].push((f.sys * 1e6) / NON_VIP);
        nonVip.events[which].push((c.conntrackEvents?.eventsRead ?? 0) - read0);
        await c.close();
        return (used.user + used.system) / NON_VIP;
      };
      let errors = 0;
      // This process's CPU per connection during the wrk runs (the conntrack event reads when on), by side.
      const selfUs: { off: number[]; on: number[] } = { off: [], on: [] };
      let side: 'off' | 'on' = 'off';
      const rate = async () => {
        const c0 = process.cpuUsage();
        const r = await wrk(cli, 'http://11.0.0.1:8080/');
        const c = process.cpuUsage(c0);
        selfUs[side].push((c.user + c.system) / (r.rps * WRK_SECONDS));
        errors += r.errors;
        return r.rps;
      };
      let seen: { connections?: number; bytes?: number } | undefined;
      const acctSeen = { off: new Set<string>(), on: new Set<string>() };
      const off = (fn: () => Promise<number>) => async () => {
        await counters.remove();
        side = 'off';
        acctSeen.off.add(acct());
        return fn();
      };
      const on = (fn: () => Promise<number>) => async () => {
        await counters.install();
        side = 'on';
        acctSeen.on.add(acct());
        const v = await fn();
        seen = (await counters.read(services)).vips.find((x) => x.backends[0]?.connections)?.backends[0];
        return v;
      };
      try {
        return await withProcs([iperfServer(srv, b, 5201), httpServer(srv, b, 8080)], async () => {
          const conn = await alternate(RUNS, off(rate), on(rate));
          const tput = await alternate(RUNS, off(async () => (await iperf(cli, '11.0.0.1', 5201)).gbps), on(async () => (await iperf(cli, '11.0.0.1', 5201)).gbps));
          const cpu = await alternate(RUNS, off(perPacket), on(perPacket));
          const [cOff, cOn] = [median(cpu.direct), median(cpu.via)];
          const conns = await alternate(RUNS, off(perConnection), on(perConnection));
          const [kOff, kOn] = [median(conns.direct), median(conns.via)];
          const agent = await alternate(RUNS, perNonVip('before'), perNonVip('after'));
          await unfiltered.close();
          await counters.remove();
          return {
            rows: [row('nftables', 'connections/s', conn, 0), row('nftables', 'Gbit/s', tput, 2)],
            notes: [
              `- nftables kernel CPU per packet (system time of a sender pushing ${PACKETS.toLocaleString('en')} 64-byte UDP datagrams through the VIP per run, the output hook runs in its system call; median of ${RUNS} alternating pairs): metrics off ${cOff.toFixed(2)} µs, on ${cOn.toFixed(2)} µs, **+${(cOn - cOff).toFixed(2)} µs per packet** (per pair ${f2(pairedRatio(cpu.direct, cpu.via))}x; runs off: ${list(cpu.direct, 2)}; on: ${list(cpu.via, 2)}).`,
              `- nftables kernel CPU per connection (system time of a client opening and closing ${CONNECTIONS.toLocaleString('en')} TCP connections to the VIP one after another per run; median of ${RUNS} alternating pairs): metrics off ${kOff.toFixed(1)} µs, on ${kOn.toFixed(1)} µs, **${kOn >= kOff ? '+' : ''}${(kOn - kOff).toFixed(1)} µs per connection** (per pair ${f2(pairedRatio(conns.direct, conns.via))}x; runs off: ${list(conns.direct, 1)}; on: ${list(conns.via, 1)}; failed connects: ${connectErrors}).`,
              `- nftables, this process (the driver; on: the conntrack event and dump reads) CPU per connection during the wrk runs: off ${median(selfUs.off).toFixed(2)} µs, on ${median(selfUs.on).toFixed(2)} µs (runs off: ${list(selfUs.off, 2)}; on: ${list(selfUs.on, 2)}); \`nf_conntrack_acct\` was ${[...acctSeen.off].join('/')} in the off runs, ${[...acctSeen.on].join('/')} in the on runs.`,
              `- nftables, this process's CPU per connection that is not to a VIP (metrics on; ${NON_VIP.toLocaleString('en')} TCP connections straight to the backend a run, then a conntrack flush sends their destroy events at once; the window is the client, the flush and three 250 ms drains; median of ${RUNS} alternating pairs): event socket unfiltered (before) ${median(agent.direct).toFixed(2)} µs, with the mark filter (after) **${median(agent.via).toFixed(2)} µs** (runs before: ${list(agent.direct, 2)}; after: ${list(agent.via, 2)}); events this process read per run: before ${list(nonVip.events.before, 0)}, after ${list(nonVip.events.after, 0)}; kernel CPU to send the events (the flusher's system time per connection): before ${median(nonVip.kernelUs.before).toFixed(2)} µs, after ${median(nonVip.kernelUs.after).toFixed(2)} µs; failed connects: ${nonVip.bad}; steal ${stealNote(agent.steal)}.`,
              `- nftables: the last "on" run (the per-connection client) was counted by the kernel (${seen?.connections ?? 0} connections, ${((seen?.bytes ?? 0) / 1e9).toFixed(2)} GB with the backend); wrk socket errors over all runs: ${errors}; steal: wrk ${stealNote(conn.steal)}, iperf3 ${stealNote(tput.steal)}.`,
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
    '- nftables: the VIP in the client\'s namespace (output DNAT), the backend across a veth; "on" installs the metrics table (`inet sextant_l4lb_metrics`: dynamic sets with counters, connections updated in NAT chains that run for a connection\'s first packet only, failures in filter chains that only TCP packets of connections not yet assured enter), turns on conntrack accounting (`nf_conntrack_acct=1`) and opens the conntrack sockets (destroy events of the connections the table marked, a socket filter dropping the others in the kernel, read every 250 ms; and a dump at read time) for bytes; "off" removes the table, puts accounting back to 0 and closes the sockets. Same driver, same VIPs; the client namespace\'s TIME_WAIT conntrack timeout is 2 s in both.',
    '- userspace: two proxies in this process on loopback addresses, one with `metrics: false`, same backend servers.',
    ...parts.flatMap((p) => p.notes),
    '',
  ].join('\n');
}
