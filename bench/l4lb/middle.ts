/**
 * The setup for the userspace path: client ns -> veth -> proxy ns -> veth -> server ns.
 * The userspace proxy runs as its own process (bench/l4lb/proxy-main.ts) inside the middle
 * namespace, HAProxy in the same place on other ports; "direct" is the client talking to the
 * server, routed (ip_forward) through the middle namespace. Each round runs direct, proxy, HAProxy and
 * the reference C relay (floor-relay.c).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { siblingArgv } from '../../common/sibling.js';
import { spawnTracked } from '../../test/lib/proc.js';
import { which } from '../../test/lib/require.js';
import { withNetns } from './index.js';
import { nsExec, startProcess, type Proc } from './procs.js';

const PROXY_MAIN = siblingArgv(import.meta.url, 'proxy-main');

export const NET = { cli: '10.79.1.2', midCli: '10.79.1.1', midSrv: '10.79.2.1', srv: '10.79.2.2' };

/** Three namespaces in a line; fn gets their names. */
export async function threeNodes<T>(fn: (cli: string, mid: string, srv: string) => Promise<T>): Promise<T> {
  return withNetns((cli) =>
    withNetns((mid) =>
      withNetns(async (srv) => {
        for (const ns of [cli, mid, srv]) nsExec(ns, 'ip', 'link', 'set', 'lo', 'up');
        nsExec(cli, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', mid);
        nsExec(srv, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', mid);
        nsExec(cli, 'ip', 'addr', 'add', `${NET.cli}/24`, 'dev', 'eth0');
        nsExec(mid, 'ip', 'addr', 'add', `${NET.midCli}/24`, 'dev', 'eth0');
        nsExec(mid, 'ip', 'addr', 'add', `${NET.midSrv}/24`, 'dev', 'eth1');
        nsExec(srv, 'ip', 'addr', 'add', `${NET.srv}/24`, 'dev', 'eth0');
        for (const [ns, dev] of [[cli, 'eth0'], [mid, 'eth0'], [mid, 'eth1'], [srv, 'eth0']] as const) nsExec(ns, 'ip', 'link', 'set', dev, 'up');
        nsExec(cli, 'ip', 'route', 'add', 'default', 'via', NET.midCli);
        nsExec(srv, 'ip', 'route', 'add', 'default', 'via', NET.midSrv);
        nsExec(mid, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
        // Both connection-opening sides (wrk in cli, the proxies in mid) recycle TIME_WAIT ports.
        for (const ns of [cli, mid]) nsExec(ns, 'sysctl', '-qw', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000');
        return fn(cli, mid, srv);
      }),
    ),
  );
}

export interface ProxyProc extends Proc {
  /** CPU seconds the proxy process has used so far. */
  cpu(): number;
}

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14-15). */
export function processCpu(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The userspace proxy as its own process (in `ns` when given), listening on `listen` for each `[port, backendIp, backendPort]`. */
export async function proxyProcess(ns: string | undefined, listen: string, routes: Array<[number, string, number]>): Promise<ProxyProc> {
  const services = routes.map(([port, ip, bport]) => ({ key: `tcp/11.0.0.1:${port}`, vip: '11.0.0.1', port, protocol: 'tcp', backends: [{ ip, port: bport, weight: 1 }] }));
  const argv = [...(ns ? ['ip', 'netns', 'exec', ns] : []), process.execPath, ...PROXY_MAIN, JSON.stringify({ listen, services })];
  const p = await startProcess(argv, /ready/, 20_000);
  return { ...p, cpu: () => processCpu(p.pid) };
}

/**
 * The reference relay (floor-relay.c: accept, connect, relay, nothing else), built once with the C
 * compiler into a temporary directory, one process in `ns` per `[port, backendIp, backendPort]`
 * (as `proxyProcess`); undefined when there is no compiler.
 */
export async function floorRelay(ns: string, listen: string, routes: Array<[number, string, number]>): Promise<ProxyProc | undefined> {
  if (!which('cc')) return undefined;
  // From the sources (bench/l4lb/) or from the build (dist/bench/l4lb/): the C files stay in the sources.
  const root = [new URL('../../', import.meta.url), new URL('../../../', import.meta.url)].find((u) => existsSync(new URL('bench/l4lb/floor-relay.c', u)));
  if (!root) throw new Error('floor-relay.c not found beside the bench (bench/l4lb/)');
  const src = (f: string) => fileURLToPath(new URL(f, root));
  const dir = mkdtempSync(join(tmpdir(), 'sx-floor-'));
  const exe = join(dir, 'floor-relay');
  const procs: Proc[] = [];
  const stop = () => {
    for (const p of procs) p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('cc', ['-O2', '-o', exe, src('bench/l4lb/floor-relay.c'), src('native/relay_io.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
    for (const [port, ip, bport] of routes) procs.push(await startProcess(['ip', 'netns', 'exec', ns, exe, listen, String(port), ip, String(bport)], /ready/));
  } catch (e) {
    stop();
    throw e;
  }
  return { pid: procs[0]!.pid, stop, cpu: () => procs.reduce((sum, p) => sum + processCpu(p.pid), 0) };
}

/** The first child of `pid` (HAProxy under the shell that started it), or `pid` when it has none. */
export function firstChild(pid: number): number {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return kids.length ? Number(kids[0]) : pid;
}

/**
 * System calls per accepted connection of process `pid` (all its threads) while `run` runs, counted
 * by `strace -c -f` (slows the process, not the count). undefined when nothing was accepted.
 */
export async function syscallsPerConnection(pid: number, run: () => Promise<unknown>): Promise<{ total: number; perCall: Record<string, number> } | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'sx-strace-'));
  const out = join(dir, 'counts');
  const cleanup: Array<() => unknown> = [];
  try {
    const s = spawnTracked({ teardown: (fn) => void cleanup.push(fn) }, 'strace', ['-c', '-f', '-p', String(pid), '-o', out]);
    await s.waitFor(/attached/, 10_000); // on stderr, once every thread is traced
    await run();
    s.kill('SIGINT'); // it writes its table and detaches
    await s.exited;
    const calls: Record<string, number> = {};
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      // % time, seconds, usecs/call, calls, [errors], name
      if (f.length >= 5 && /^\d+$/.test(f[3]!) && f[f.length - 1] !== 'total') calls[f[f.length - 1]!] = Number(f[3]);
    }
    const accepted = calls.accept4 ?? calls.accept ?? 0;
    if (!accepted) return undefined;
    const perCall = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / accepted]));
    return { total: Object.values(perCall).reduce((a, b) => a + b, 0), perCall };
  } finally {
    for (const fn of cleanup) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
}
