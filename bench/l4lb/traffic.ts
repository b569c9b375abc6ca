/**
 * Bench parts that move real bytes: userspace programming cost, iperf3 throughput (3 runs of 5 s,
 * median) and wrk connection rate (`Connection: close`, one TCP connection per request) through a
 * VIP vs direct. Kernel path: two namespaces joined by a veth, the nftables table in the client's.
 * Userspace path: the proxy in this process on loopback addresses (as on a machine without root).
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { which } from '../../test/lib/require.js';
import { eventually } from '../../test/lib/proc.js';
import { createLogger } from '../../common/log.js';
import { NftablesDriver } from '../../l4lb/nft/driver.js';
import { UserspaceDriver } from '../../l4lb/userspace/driver.js';
import { nativeRelay } from '../../l4lb/userspace/native-relay.js';
import { makeServices, timed, withNetns } from './index.js';
import { median, nsExec, runAsync, startProcess, type Proc } from './procs.js';
import { pairedRatio } from '../lib/stats.js';
import { measuredSteal, stealNote } from '../lib/steal.js';
import { alternate, type Pair } from '../lib/pairs.js';
import { NET, firstChild, floorRelay, processCpu, proxyProcess, syscallsPerConnection, threeNodes, type ProxyProc } from './middle.js';

const quiet = createLogger('l4lb-bench');
export const IPERF_RUNS = 5;
export const IPERF_SECONDS = 5;
export const WRK_RUNS = 9;
export const WRK_SECONDS = 3;

export async function programUserspace(n: number): Promise<{ full: number; change: number }> {
  const a = randomInt(1, 250);
  const d = new UserspaceDriver({ listenAddress: (s) => ({ host: `127.${a}.${(Number(s.vip.split('.')[2]) % 250) + 1}.${(Number(s.vip.split('.')[3]) % 250) + 1}`, port: 0 }), log: quiet });
  await d.start();
  try {
    const svcs = makeServices(n);
    const full = (await timed(() => d.apply(svcs))).ms;
    svcs[7]!.backends[1]!.weight = 0;
    const change = (await timed(() => d.apply(svcs))).ms;
    return { full, change };
  } finally {
    await d.stop();
  }
}

/**
 * A tiny HTTP server, one response per connection: `node -e SERVER port host`. It answers
 * `Connection: close` and lets wrk close first (wrk does on that header), so TIME_WAIT stays on
 * the client side, where tcp_tw_reuse recycles ports. A server that closed first would keep the
 * TIME_WAITs, and with per-connection TCP timestamp offsets the kernel refuses to recycle those for
 * a new SYN on the same 4-tuple: wrk then stalls on 1 s SYN retransmits and rates collapse run
 * after run (seen here: 11,139 -> 734 connections/s).
 */
const HTTP_SERVER = `const net=require('net');const [port,host]=process.argv.slice(1);
const R=Buffer.from('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok');
net.createServer({noDelay:true},c=>{c.once('data',()=>c.write(R));c.on('error',()=>{})}).listen(+port,host,()=>console.log('ready'));`;

const pre = (ns: string | undefined) => (ns ? ['ip', 'netns', 'exec', ns] : []);

/** Bytes/s of one iperf3 run, and the CPU this process spent meanwhile (the userspace proxy's). */
export async function iperf(ns: string | undefined, host: string, port: number, bind?: string, retries = 2): Promise<{ gbps: number; cpuSPerGB: number; bytes: number }> {
  const c0 = process.cpuUsage();
  const argv = [...pre(ns), 'iperf3', '-c', host, '-p', String(port), '-t', String(IPERF_SECONDS), '-J', ...(bind ? ['-B', bind] : [])];
  let out: string;
  try {
    out = await runAsync(argv, (IPERF_SECONDS + 20) * 1000);
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? JSON.stringify({ error: (e as Error).message });
  }
  const c = process.cpuUsage(c0);
  const j = JSON.parse(out) as { error?: string; end?: { sum_received?: { bits_per_second: number; bytes: number } } };
  const r = j.end?.sum_received;
  if (!r) {
    // e.g. "the server is busy running a test" while the last run's server side winds down.
    if (retries > 0) {
      await new Promise((res) => setTimeout(res, 1000));
      return iperf(ns, host, port, bind, retries - 1);
    }
    throw new Error(`iperf3 to ${host}:${port}: ${j.error ?? 'no result'}`);
  }
  return { gbps: r.bits_per_second / 1e9, cpuSPerGB: (c.user + c.system) / 1e6 / (r.bytes / 1e9), bytes: r.bytes };
}

/** Requests (= new TCP connections) per second of one wrk run, and its socket errors. */
export async function wrk(ns: string | undefined, url: string): Promise<{ rps: number; errors: number }> {
  const out = await runAsync([...pre(ns), 'wrk', '-t', '1', '-c', '16', '-d', `${WRK_SECONDS}s`, '-H', 'Connection: close', url], (WRK_SECONDS + 20) * 1000);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, errors: (errs ? errs.slice(1).reduce((a, x) => a + Number(x), 0) : 0) + non2xx };
}

const f2 = (x: number) => x.toFixed(2);
const runs = (xs: number[], digits: number) => xs.map((x) => x.toFixed(digits)).join(' / ');

export function rows(label: string, viaLabel: string, p: Pair, digits: number): string[] {
  const d = median(p.direct);
  const v = median(p.via);
  const paired = pairedRatio(p.direct, p.via);
  return [`| ${label} | ${d.toFixed(digits)} (${runs(p.direct, digits)}) | 1.00 |`, `| ${viaLabel} | ${v.toFixed(digits)} (${runs(p.via, digits)}) | ${f2(v / d)} (per pair ${f2(paired)}) |`];
}

/** Two namespaces on a veth; the nftables table (one VIP) in the client's. */
async function kernelPath<T>(fn: (srv: string, cli: string, vip: string, backend: string) => Promise<T>): Promise<T> {
  return withNetns((srv) =>
    withNetns(async (cli) => {
      nsExec(srv, 'ip', 'link', 'set', 'lo', 'up');
      nsExec(cli, 'ip', 'link', 'set', 'lo', 'up');
      nsExec(srv, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', cli);
      nsExec(srv, 'ip', 'addr', 'add', '10.78.0.1/24', 'dev', 'eth0');
      nsExec(cli, 'ip', 'addr', 'add', '10.78.0.3/24', 'dev', 'eth0');
      nsExec(srv, 'ip', 'link', 'set', 'eth0', 'up');
      nsExec(cli, 'ip', 'link', 'set', 'eth0', 'up');
      nsExec(cli, 'ip', 'route', 'add', 'default', 'dev', 'eth0');
      // wrk's client ports: recycle TIME_WAIT (the default 2 does so on loopback only) over a wide range.
      nsExec(cli, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000');
      const d = new NftablesDriver({ netns: cli, log: quiet });
      await d.start();
      const backends = [{ ip: '10.78.0.1', port: 5201, weight: 1 }];
      await d.apply([
        { key: 'tcp/11.0.0.1:5201', vip: '11.0.0.1', port: 5201, protocol: 'tcp', backends },
        // The VIP's HTTP backend is a second server port: direct and VIP runs never share a 4-tuple
        // (a client port reused against the other path's TIME_WAIT state stalls new connections).
        { key: 'tcp/11.0.0.1:8080', vip: '11.0.0.1', port: 8080, protocol: 'tcp', backends: [{ ...backends[0]!, port: 8081 }] },
      ]);
      return fn(srv, cli, '11.0.0.1', '10.78.0.1');
    }),
  );
}

function peerRow(label: string, xs: number[], direct: number[], digits: number): string {
  return `| ${label} | ${median(xs).toFixed(digits)} (${runs(xs, digits)}) | ${f2(median(xs) / median(direct))} |`;
}

/** HAProxy (Debian's, default threads) relaying each `[listenPort, backend]` on `ip` (in `ns` when given); ready when it accepts. */
async function haproxyPeer(ip: string, routes: Array<[number, string]>, ns?: string): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'sx-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  const lines = ['global', '  maxconn 4096', 'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s'];
  routes.forEach(([p, to], i) => lines.push(`frontend f${i}`, `  bind ${ip}:${p}`, `  default_backend b${i}`, `backend b${i}`, `  server s${i} ${to}`));
  writeFileSync(cfg, `${lines.join('\n')}\n`);
  const probe = `require('net').connect(${routes[0]![0]},'${ip}').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))`;
  const accepts = ns
    ? () => runAsync([...pre(ns), process.execPath, '-e', probe], 5000).then(() => true, () => false)
    : () =>
        new Promise<boolean>((res) => {
          const c = connect({ host: ip, port: routes[0]![0] }, () => (c.destroy(), res(true)));
          c.on('error', () => res(false));
        });
  let p: Proc | undefined;
  try {
    p = await startProcess([...pre(ns), 'sh', '-c', `haproxy -db -f ${cfg} & pid=$!; echo started; wait $pid`], /started/);
    await eventually(accepts, 10_000, 50, `haproxy accepting on ${ip}:${routes[0]![0]}`);
  } catch (e) {
    p?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const proc = p;
  return { pid: proc.pid, stop: () => (proc.stop(), rmSync(dir, { recursive: true, force: true })) };
}

export async function withProcs<T>(starts: Array<() => Promise<Proc>>, fn: () => Promise<T>): Promise<T> {
  const procs: Proc[] = [];
  try {
    for (const s of starts) procs.push(await s());
    return await fn();
  } finally {
    for (const p of procs) p.stop();
  }
}

export const iperfServer = (ns: string | undefined, host: string, port: number) => () => startProcess([...pre(ns), 'iperf3', '-s', '--forceflush', '-B', host, '-p', String(port)], /Server listening/);
export const httpServer = (ns: string | undefined, host: string, port: number) => () => startProcess([...pre(ns), process.execPath, '-e', HTTP_SERVER, String(port), host], /ready/);

interface Path {
  label: string;
  iperfPort: number;
  httpPort: number;
  cpu?: () => number;
  gbps: number[];
  rps: number[];
  cpuPerGB: number[];
  usPerConn: number[];
}

const relayName = () => {
  const r = nativeRelay();
  return r ? `native (native/tcprelay.c), ${r.threads} relay thread(s)` : 'net.Socket (native module not built, or SEXTANT_TCP_RELAY=0)';
};

const FLOOR_LABEL = 'reference C relay, no JavaScript (middle ns)';

const path = (label: string, iperfPort: number, httpPort: number, cpu?: () => number): Path => ({ label, iperfPort, httpPort, cpu, gbps: [], rps: [], cpuPerGB: [], usPerConn: [] });

/**
 * The issue's setup (see middle.ts): direct, the userspace proxy (its own process), HAProxy and the
 * reference C relay in the middle namespace; each round runs every path, the first place rotating.
 * Rows for both tables.
 */
async function middlePath(rate: (ns: string | undefined, url: string) => Promise<number>): Promise<{ tput: string[]; conn: string[]; notes: string[] }> {
  return threeNodes((cli, mid, srv) =>
    withProcs([iperfServer(srv, NET.srv, 5201), ...[8080, 8081, 8082, 8083].map((port) => httpServer(srv, NET.srv, port))], async () => {
      const procs: Proc[] = [];
      try {
        const proxy: ProxyProc = await proxyProcess(mid, NET.midCli, [[6000, NET.srv, 5201], [6001, NET.srv, 8081]]);
        procs.push(proxy);
        const haproxy = await haproxyPeer(NET.midCli, [[7000, `${NET.srv}:5201`], [7001, `${NET.srv}:8082`]], mid);
        procs.push(haproxy);
        const haPid = firstChild(haproxy.pid);
        const direct = path('direct (middle ns routes)', 5201, 8080);
        const ours = path('userspace proxy, one process, native relay (middle ns)', 6000, 6001, proxy.cpu);
        const ha = path('HAProxy 2.6, TCP mode (middle ns)', 7000, 7001, () => processCpu(haPid));
        // A relay with none of the proxy's own costs (floor-relay.c), when there is a C compiler;
        // one that cannot start costs its rows only, not the section.
        let floorSkipped = 'no C compiler `cc`';
        const floorProc = await floorRelay(mid, NET.midCli, [[7500, NET.srv, 5201], [7501, NET.srv, 8083]]).catch((e: Error) => void (floorSkipped = e.message.split('\n')[0]!));
        if (floorProc) procs.push(floorProc);
        const floor = floorProc ? path(FLOOR_LABEL, 7500, 7501, floorProc.cpu) : undefined;
        const all = [direct, ours, ha, ...(floor ? [floor] : [])];
        const host = (v: Path) => (v === direct ? NET.srv : NET.midCli);
        // Who goes first rotates every round, so no path always follows the same other one.
        // `one` measures a path and gets the CPU seconds its process used meanwhile (0 for direct).
        const rounds = async (n: number, one: (v: Path, cpu: () => number) => Promise<void>): Promise<number[]> => {
          const steals: number[] = [];
          for (let r = 0; r < n; r++) {
            const round = await measuredSteal(async () => {
              for (const v of all.map((_, k) => all[(k + r) % all.length]!)) {
                const c0 = v.cpu?.() ?? 0;
                await one(v, () => (v.cpu?.() ?? 0) - c0);
              }
            });
            steals.push(round.steal);
          }
          return steals;
        };
        const steal = {
          tput: await rounds(IPERF_RUNS, async (v, cpu) => {
            const res = await iperf(cli, host(v), v.iperfPort);
            v.gbps.push(res.gbps);
            if (v.cpu) v.cpuPerGB.push(cpu() / (res.bytes / 1e9));
          }),
          conn: await rounds(WRK_RUNS, async (v, cpu) => {
            const rps = await rate(cli, `http://${host(v)}:${v.httpPort}/`);
            v.rps.push(rps);
            if (v.cpu) v.usPerConn.push((cpu() * 1e6) / (rps * WRK_SECONDS));
          }),
        };
        const name = ours.label.split(' (')[0];
        const sys = [];
        if (which('strace')) for (const [v, pid] of [[ours, proxy.pid], [ha, haPid]] as const) sys.push(await syscallsPerConnection(pid, () => rate(cli, `http://${host(v)}:${v.httpPort}/`)));
        const top = (x: { perCall: Record<string, number> }) =>
          Object.entries(x.perCall)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6)
            .map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(', ');
        return {
          tput: [...all.map((v) => peerRow(v.label, v.gbps, direct.gbps, 2)), `| ${name} vs HAProxy | | **${f2(median(ours.gbps) / median(ha.gbps))}** (per round ${f2(pairedRatio(ha.gbps, ours.gbps))}) |`],
          conn: [
            ...all.map((v) => peerRow(v.label, v.rps, direct.rps, 0)),
            `| ${name} vs HAProxy | | **${f2(median(ours.rps) / median(ha.rps))}** (per round ${f2(pairedRatio(ha.rps, ours.rps))}) |`,
            ...(floor ? [`| reference C relay vs HAProxy | | ${f2(median(floor.rps) / median(ha.rps))} (per round ${f2(pairedRatio(ha.rps, floor.rps))}) |`] : []),
          ],
          notes: [
            `- CPU (medians, from /proc): ${name} ${f2(median(ours.cpuPerGB))} CPU-s per GB relayed, ${median(ours.usPerConn).toFixed(0)} µs per connection; HAProxy ${f2(median(ha.cpuPerGB))} CPU-s per GB, ${median(ha.usPerConn).toFixed(0)} µs per connection${floor ? `; reference C relay ${f2(median(floor.cpuPerGB))} CPU-s per GB, ${median(floor.usPerConn).toFixed(0)} µs per connection` : ''} (kernel work for the sockets dominates all).`,
            floor
              ? `- The reference C relay (\`bench/l4lb/floor-relay.c\`, not part of Sextant) accepts, connects and relays with the native relay's byte-moving code and nothing else: no JavaScript, no backend choice, no timeouts, one thread. It has none of the proxy's own costs, so it shows what this machine lets a proxy reach; the userspace proxy per round vs it: connection rate ${f2(pairedRatio(floor.rps, ours.rps))}, throughput ${f2(pairedRatio(floor.gbps, ours.gbps))}.`
              : `- Reference C relay: not run (${floorSkipped}).`,
            ...(sys[0] && sys[1]
              ? [`- System calls per connection (\`strace -c -f\` on the process during one more wrk run each; counts, not times): ${name} ${f2(sys[0].total)} (${top(sys[0])}); HAProxy ${f2(sys[1].total)} (${top(sys[1])}).`]
              : ['- System calls per connection: not counted (strace missing).']),
            `- TCP relay of the userspace proxy (here and on loopback): ${relayName()}.`,
            `- Middle ns rounds: iperf3 ${stealNote(steal.tput)}; wrk ${stealNote(steal.conn)} (time the hypervisor gave other guests; a round with much of it measured the machine, not the path).`,
          ],
        };
      } finally {
        for (const p of procs) p.stop();
      }
    }),
  );
}

export async function throughput(): Promise<string[]> {
  const out = [`## Throughput through a VIP vs direct (iperf3, one TCP stream, median of ${IPERF_RUNS} runs of ${IPERF_SECONDS} s)`, ''];
  const missing = ['iperf3', 'wrk', 'haproxy'].filter((t) => !which(t));
  if (missing.length) return [...out, `${missing.join(', ')} missing (apt-get install ${missing.join(' ')}): not measured.`];
  out.push('"vs direct": the ratio of the medians, and per pair: the median of the ratios of each run to the direct run of its pair (direct goes first in odd pairs, second in even ones, so load that drifts over the series and what one run leaves for the next cancel); per round (middle ns: direct, the proxy, HAProxy and the reference C relay take turns, the first place rotating each round): the median of the proxy\'s run over HAProxy\'s in the same round.', '');
  out.push('| path | Gbit/s (runs) | vs direct |', '| --- | --- | --- |');
  const conn: string[] = [`## Connection rate through a VIP vs direct (wrk, \`Connection: close\`: one new TCP connection per request, 16 connections, median of ${WRK_RUNS} runs of ${WRK_SECONDS} s)`, ''];
  conn.push('| path | requests/s (runs) | vs direct |', '| --- | --- | --- |');
  let errors = 0;
  const steals: string[] = [];
  const rate = async (ns: string | undefined, url: string) => {
    const r = await wrk(ns, url);
    errors += r.errors;
    return r.rps;
  };

  await kernelPath((srv, cli, vip, backend) =>
    withProcs([iperfServer(srv, backend, 5201), httpServer(srv, backend, 8080), httpServer(srv, backend, 8081)], async () => {
      const t = await alternate(IPERF_RUNS, async () => (await iperf(cli, backend, 5201)).gbps, async () => (await iperf(cli, vip, 5201)).gbps);
      out.push(...rows('direct (veth between namespaces)', 'nftables VIP (DNAT)', t, 2));
      const c = await alternate(WRK_RUNS, () => rate(cli, `http://${backend}:8080/`), () => rate(cli, `http://${vip}:8080/`));
      conn.push(...rows('direct (veth between namespaces)', 'nftables VIP (DNAT)', c, 0));
      steals.push(`- nftables VIP pairs: iperf3 ${stealNote(t.steal)}; wrk ${stealNote(c.steal)}.`);
    }),
  );

  const a = randomInt(1, 250);
  const [srvIp, proxyIp, cliIp, haIp] = [`127.${a}.9.1`, `127.${a}.9.2`, `127.${a}.9.3`, `127.${a}.9.4`];
  const port = 20000 + randomInt(0, 20000);
  const d = new UserspaceDriver({ listenAddress: (s) => ({ host: proxyIp, port: s.port }), log: quiet });
  let cpu: number[] = [];
  try {
    await d.start();
    await d.apply([
      { key: `tcp/11.0.0.1:${port}`, vip: '11.0.0.1', port, protocol: 'tcp', backends: [{ ip: srvIp, port, weight: 1 }] },
      { key: `tcp/11.0.0.1:${port + 1}`, vip: '11.0.0.1', port: port + 1, protocol: 'tcp', backends: [{ ip: srvIp, port: port + 2, weight: 1 }] },
    ]);
    await withProcs([iperfServer(undefined, srvIp, port), httpServer(undefined, srvIp, port + 1), httpServer(undefined, srvIp, port + 2)], async () => {
      const t = await alternate(
        IPERF_RUNS,
        async () => (await iperf(undefined, srvIp, port, cliIp)).gbps,
        async () => {
          const r = await iperf(undefined, proxyIp, port, cliIp);
          cpu.push(r.cpuSPerGB);
          return r.gbps;
        },
      );
      out.push(...rows('direct (loopback)', 'userspace proxy (loopback)', t, 2));
      const c = await alternate(WRK_RUNS, () => rate(undefined, `http://${srvIp}:${port + 1}/`), () => rate(undefined, `http://${proxyIp}:${port + 1}/`));
      conn.push(...rows('direct (loopback)', 'userspace proxy (loopback)', c, 0));
      steals.push(`- Loopback proxy pairs: iperf3 ${stealNote(t.steal)}; wrk ${stealNote(c.steal)}.`);
      // The issue's peer for the userspace path, same run, same backends: HAProxy in TCP mode.
      const ha = await haproxyPeer(haIp, [
        [port, `${srvIp}:${port}`],
        [port + 1, `${srvIp}:${port + 2}`],
      ]);
      try {
        const ht: number[] = [];
        const hc: number[] = [];
        for (let i = 0; i < IPERF_RUNS; i++) ht.push((await iperf(undefined, haIp, port, cliIp)).gbps);
        for (let i = 0; i < WRK_RUNS; i++) hc.push(await rate(undefined, `http://${haIp}:${port + 1}/`));
        out.push(peerRow('HAProxy 2.6, TCP mode (loopback)', ht, t.direct, 2), `| userspace proxy vs HAProxy | | **${f2(median(t.via) / median(ht))}** |`);
        conn.push(peerRow('HAProxy 2.6, TCP mode (loopback)', hc, c.direct, 0), `| userspace proxy vs HAProxy | | **${f2(median(c.via) / median(hc))}** |`);
      } finally {
        ha.stop();
      }
    });
  } finally {
    await d.stop();
  }
  cpu = cpu.sort((x, y) => x - y);
  // The issue's setup: three namespaces, the proxies in the middle one as their own processes.
  const m = await middlePath(rate);
  const nsNote = '**Rows marked "middle ns" are the issue\'s setup** (client ns -> veth -> proxy ns -> veth -> server ns; each proxy its own process in the middle namespace; direct routed through it); the loopback rows relay inside the bench process on 127.x addresses, as on a machine without root.';
  out.push(...m.tput);
  conn.push(...m.conn);
  out.push(
    '',
    nsNote,
    ...m.notes,
    ...steals,
    '',
    `Userspace proxy CPU on loopback: ${f2(median(cpu))} CPU-seconds per GB relayed (median), i.e. one core could relay ~${f2((8 / median(cpu)))} Gbit/s; the ratio above is bounded by how much CPU the client, proxy and server get on this shared 2-core machine.`,
    `Targets (issue 6): kernel drivers at least 95% of direct; userspace at least HAProxy's (the issue measured ~5.4 of 11.7 Gbit/s, ratio 0.46; HAProxy is measured above in the same run).`,
    '',
    ...conn,
    '',
    nsNote,
    '',
    `Each HTTP server is one Node process answering \`200 ok\` and closing (direct and VIP paths use two server ports, so their connections never share a 4-tuple); wrk socket errors over all runs: ${errors}.`,
  );
  return out;
}
