/**
 * `sextant up --masters 3|5`: a ZooKeeper ensemble of that size (Debian's zookeeper, one server
 * per master address, data under `<work-dir>/zookeeper`), then the masters, each on its own
 * loopback address with `--zk zk://.../sextant` (the store) and the election under `/mesos`, where
 * agents (`--master zk://.../mesos`) and Mesos-DNS find the leader. Which master leads is watched
 * through the election znodes (Mesos-DNS's detector) and kept current in the status file.
 * `up` is the masters' supervisor: a master that exits with a status (a leader that lost its
 * ZooKeeper leadership exits 1, as a Mesos master does) or is killed by SIGKILL (a crash: the OOM
 * killer, `kill -9`; systemd's Restart=always did this for DC/OS masters) is started again on the
 * same address and work dir; one stopped by SIGTERM or SIGINT (an operator) is not.
 * With --netns (`net`), each master and its ZooKeeper server run in the master's own namespace
 * (cli/up-netns.ts) and the host reaches them on <ip-base>.k through the forwarder: the URLs in
 * the status file and the summary are those; the zk:// URLs the masters and agents use name the
 * namespaces' addresses.
 * Secure unless --insecure-dev (#30): each master gets its own certificate for its own address
 * (`<work-dir>/pki/master-<n>/`, with the one CA and its key: whichever leads signs agents'
 * certificates at their bootstrap) and, unless --no-admin, an HTTPS entry point with a certificate
 * `up` issues for the addresses it is reached on (cli/up-tls.ts); the status file's `entry` follows
 * the leader.
 * ZooKeeper behind digest ACLs (#30, cli/up-zk-auth.ts): a random credential in
 * `<work-dir>/zk-auth` (0600) for every master (`--zk-auth-file`); the store is theirs alone, the
 * election under /mesos world-readable (agents and Mesos-DNS need no credential). The servers'
 * AdminServer is off, their four-letter words limited to srvr/ruok/mntr, and each listens on
 * its master's address only (master/zk/ensemble.ts).
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { haEntryCert, haMasterTlsDir, upRequest as requestJson, type UpTls } from './up-tls.js';
import type { CaFiles } from '../common/pki.js';
import type { Logger, LogFields } from '../common/log.js';
import { createRegistry } from '../common/metrics.js';
import { ZkDetector, ZkMetrics } from '../dns/index.js';
import { ZkEnsemble } from '../master/index.js';
import { masterIpOf, type UpOptions } from './up-args.js';
import { running, say, startChild, terminate, waitLine, type Child, type Wrap } from './up-child.js';
import type { StatusFile } from './up-status.js';
import { lockZkRoot, zkAuthFile } from './up-zk-auth.js';

/** The masters' ZooKeeper session timeout: a dead leader's znode goes after this long. */
export const UP_ZK_SESSION_TIMEOUT_MS = 2000;

/** A master that exits with a status (a leader that lost its leadership does, as Mesos's) is started again, at most this many times per master. */
const MAX_RESTARTS = 40;

/** Where the masters run with --netns: their own namespaces (NetnsLayout). */
export interface HaNet {
  /** Master k's own address (0-based), in its namespace. */
  ip(k: number): string;
  /** argv run inside master k's namespace. */
  inMaster(k: number, argv: string[]): string[];
  wrap(k: number): Wrap;
  /** Make `target:port` reachable from the host as `host:port`. */
  forward(list: { host: string; port: number; target: string }[]): Promise<void>;
}

export interface UpMaster {
  /** 1-based */
  n: number;
  /** Its own address (what it binds and publishes in ZooKeeper). */
  ip: string;
  /** Where this process reaches it (the same as ip, but with --netns its forwarded <ip-base>.k). */
  hostIp: string;
  mesos: string;
  marathon: string;
  /** Its HTTPS entry point (`https://hostIp:admin-port`), when `up` runs one. */
  entry?: string;
  child: Child;
}

/** The masters' security: mutual TLS (absent: --insecure-dev) and the CA that issues the entry points' certificates (absent: --no-admin). */
export interface HaSecurity {
  tls?: UpTls;
  entryCa?: CaFiles;
}

export interface HaMasters {
  /** zk://.../sextant: the masters' store. */
  zk: string;
  /** zk://.../mesos: where the masters' election znodes are (agents' --master). */
  electionZk: string;
  /** The masters' ZooKeeper credential file (`user:password`, 0600): the store's znodes are its alone. */
  zkAuthFile: string;
  masters: UpMaster[];
  ensemble: ZkEnsemble;
  leader(): UpMaster | undefined;
  /** Resolves with the leader once one is elected and its Mesos API answers. */
  waitLeader(timeoutMs: number): Promise<UpMaster>;
  /** Masters (by pid), then the ZooKeeper servers, then the leader watch. */
  stop(): Promise<void>;
}

type Step = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export async function startHaMasters(o: UpOptions, logDir: string, status: StatusFile, step: Step, env: Record<string, string>, extraArgs: string[] = [], net?: HaNet, sec: HaSecurity = {}): Promise<HaMasters> {
  const hostIps = Array.from({ length: o.masters }, (_, k) => masterIpOf(o, k));
  const ips = net ? hostIps.map((_, k) => net.ip(k)) : hostIps;
  const scheme = sec.tls ? 'https' : 'http';
  const entryOn = !!(o.adminPort && sec.entryCa);
  const ensemble = new ZkEnsemble({
    dir: join(o.workDir, 'zookeeper'),
    servers: ips.map((host, k) => ({
      host,
      ports: o.zkPorts,
      ...(net ? { wrap: (argv: string[]) => net.inMaster(k, argv), probe: { host: hostIps[k]!, port: o.zkPorts.client } } : {}),
    })),
    tickMs: 200,
    onExit: (id, how) => {
      say(`zookeeper-${id}: exited (${how})`);
      status.update((s) => s.zookeeper?.filter((z) => z.address === ensemble.servers[id - 1]!.address).forEach((z) => Object.assign(z, { state: 'exited', exit: how })));
    },
  });
  const masters: UpMaster[] = [];
  let watch: ZkDetector | undefined;
  let stopMasters = async () => undefined as void;
  const stop = async () => {
    await stopMasters();
    await watch?.stop();
    await ensemble.stop();
    status.update((s) => s.zookeeper?.forEach((z) => (z.state = 'exited')));
  };
  try {
    if (net)
      await step(`forwarding each master's Mesos, Marathon and ZooKeeper ports to ${hostIps.join(', ')}`, () =>
        net.forward(ips.flatMap((target, k) => [o.masterPort, o.marathonPort, o.zkPorts.client, ...(entryOn ? [o.adminPort] : [])].map((port) => ({ host: hostIps[k]!, port, target })))),
      );
    await step(`starting a ZooKeeper ensemble of ${o.masters} (${ensemble.connect})`, () => ensemble.start(120_000));
    for (const z of ensemble.servers) say(`zookeeper ${z.id}: pid ${z.pid} ${z.address} (data ${join(o.workDir, 'zookeeper', `server${z.id}`)})`);
    const zk = ensemble.url('/sextant');
    const electionZk = ensemble.url('/mesos');
    // #30: the store behind a digest ACL; the credential in a 0600 file, never on a command line.
    const zkAuth = zkAuthFile(o.workDir);
    const hostConnect = hostIps.map((h) => `${h}:${o.zkPorts.client}`).join(',');
    await step(`locking ZooKeeper's root, /sextant and /mesos to the credential in ${zkAuth.file} (0600)`, () =>
      lockZkRoot(hostConnect, zkAuth.auth, '/sextant', '/mesos').catch((e: Error) => Promise.reject(new Error(`could not set ZooKeeper's ACLs with the credential in ${zkAuth.file}: ${e.message}`))),
    );
    status.update((s) => {
      s.zk = zk;
      s.zk_auth_file = zkAuth.file;
      s.zookeeper = ensemble.servers.map((z) => ({ address: z.address, pid: z.pid ?? 0, state: 'running' }));
    });
    // Each master's own certificate (IP SAN and spiffe identity of its address) and its entry point's.
    const secArgs = new Map<number, string[]>();
    if (sec.tls || entryOn)
      await step(`issuing ${o.masters} masters' ${sec.tls ? 'certificates' : ''}${sec.tls && entryOn ? ' and ' : ''}${entryOn ? 'entry-point certificates' : ''} in ${join(o.workDir, 'pki')}`, async () => {
        for (const [k, ip] of ips.entries()) {
          const tlsArgs = sec.tls ? ['--tls-dir', await haMasterTlsDir(sec.tls.ca, k + 1, ip, hostIps[k]!), '--bootstrap-token-file', sec.tls.tokenFile] : ['--insecure-dev'];
          const e = entryOn ? await haEntryCert(sec.entryCa!, k + 1, ip, hostIps[k]!) : undefined;
          secArgs.set(k + 1, [...tlsArgs, ...(e ? ['--admin-port', String(o.adminPort), '--admin-cert', e.cert, '--admin-key', e.key] : [])]);
        }
      });
    let stopping = false;
    const restartable = (how: string) => /^code [1-9]/.test(how) || how === 'SIGKILL';
    const launch = (n: number, ip: string, restarts: number): Child => {
      const argv = ['master', '--ip', ip, '--port', String(o.masterPort), '--marathon-port', String(o.marathonPort), '--work-dir', join(o.workDir, `master-${n}`),
        '--agent-timeout-ms', String(o.agentTimeoutMs), '--zk', zk, '--zk-auth-file', zkAuth.file, '--zk-session-timeout-ms', String(UP_ZK_SESSION_TIMEOUT_MS), ...(secArgs.get(n) ?? ['--insecure-dev']), ...extraArgs];
      let pid = 0;
      const c = startChild(`master-${n}`, argv, logDir, (how) => {
        status.update((s) => s.masters.filter((x) => x.pid === pid).forEach((x) => Object.assign(x, { state: 'exited', exit: how, leader: false })));
        const m = masters.find((x) => x.n === n);
        if (stopping || !m || !restartable(how)) return;
        if (restarts >= MAX_RESTARTS) return say(`master-${n}: not restarting after ${restarts} restarts; see its log`);
        say(`master-${n}: starting it again (${how === 'SIGKILL' ? 'it was killed' : 'a master exits when it loses its leadership'})`);
        m.child = launch(n, ip, restarts + 1);
        say(`master ${n}: pid ${m.child.proc.pid} ${m.mesos}`);
        status.update((s) => s.masters.filter((x) => x.pid === pid).forEach((x) => Object.assign(x, { pid: m.child.proc.pid!, state: 'running', leader: false, id: '', exit: undefined })));
      }, net?.wrap(n - 1), env);
      pid = c.proc.pid ?? 0;
      return c;
    };
    stopMasters = async () => {
      stopping = true;
      await Promise.all(masters.map((m) => terminate(m.child, 10_000)));
    };
    for (const [k, ip] of ips.entries()) {
      const n = k + 1;
      const m = await step(`starting master ${n} on ${ip}:${o.masterPort}`, async () => {
        const c = launch(n, ip, 0);
        await waitLine(c, /sextant master listening/, 30_000);
        return c;
      });
      const hostIp = hostIps[k]!;
      const mesos = `${scheme}://${hostIp}:${o.masterPort}`;
      const marathon = `${scheme}://${hostIp}:${o.marathonPort}`;
      const entry = entryOn ? `https://${hostIp}:${o.adminPort}` : undefined;
      masters.push({ n, ip, hostIp, mesos, marathon, ...(entry ? { entry } : {}), child: m });
      status.update((s) => s.masters.push({ id: '', mesos, marathon, ...(entry ? { entry } : {}), pid: m.proc.pid!, leader: false, state: 'running' }));
      say(`master ${n}: pid ${m.proc.pid} ${mesos}`);
    }
    let leader: UpMaster | undefined;
    const waiters = new Set<() => void>();
    watch = new ZkDetector({
      url: net ? `zk://${hostIps.map((h) => `${h}:${o.zkPorts.client}`).join(',')}/mesos` : electionZk,
      log: fileLogger(join(logDir, 'up.log'), 'up-leader-watch'),
      metrics: new ZkMetrics(createRegistry()),
      sessionTimeoutMs: 4000,
      onChange: (v) => {
        const next = masters.find((m) => `${m.ip}:${o.masterPort}` === v.leader);
        if (next === leader) return;
        leader = next;
        if (next) say(`master ${next.n} (${next.mesos}) is the leader`);
        status.update((s) => {
          s.masters.forEach((x) => (x.leader = !!next && x.pid === next.child.proc.pid));
          // The top-level entry point is the leader's (any master's would do: each reaches the leader).
          if (next?.entry) s.entry = next.entry;
        });
        for (const w of waiters) w();
        if (next) void leaderId(next).then((id) => id && status.update((s) => s.masters.filter((x) => x.pid === next.child.proc.pid).forEach((x) => (x.id = id))));
      },
    });
    watch.start();
    /** The new leader's id, once its Mesos API answers (it starts serving a moment after its election). */
    const leaderId = async (m: UpMaster): Promise<string | undefined> => {
      for (let i = 0; i < 150 && leader === m && running(m.child); i++) {
        const id = await masterIdOf(m.mesos).catch(() => undefined);
        if (id) return id;
        await new Promise((r) => setTimeout(r, 200)); // no event tells when a new leader serves
      }
      return undefined;
    };
    const waitLeader = async (timeoutMs: number): Promise<UpMaster> => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const l = leader;
        if (l && running(l.child)) {
          const r = await requestJson(`${l.mesos}/master/state`, { timeoutMs: 3000 }).catch(() => undefined);
          if (r?.status === 200 && l === leader) return l;
        }
        if (!masters.some((m) => running(m.child))) throw new Error('every master exited; see their logs');
        if (Date.now() > end) throw new Error(`no master elected and serving after ${timeoutMs} ms; see the masters' logs`);
        // A new leader is announced by the watch; its API answering has no event: ask again shortly.
        await new Promise<void>((r) => {
          const done = () => (waiters.delete(done), clearTimeout(timer), r());
          const timer = setTimeout(done, 200);
          waiters.add(done);
        });
      }
    };
    return { zk, electionZk, zkAuthFile: zkAuth.file, masters, ensemble, leader: () => leader, waitLeader, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The id a master reports in its /master/state. */
export async function masterIdOf(masterUrl: string): Promise<string> {
  const r = await requestJson(`${masterUrl}/master/state`, { timeoutMs: 10_000 });
  const id = (r.body as { id?: unknown } | undefined)?.id;
  if (r.status !== 200 || typeof id !== 'string') throw new Error(`${masterUrl}/master/state answered ${r.status} without an id`);
  return id;
}

/** JSON lines appended to a file of the logs directory (`up`'s own stdout is for people). */
function fileLogger(path: string, component: string, base: LogFields = {}): Logger {
  const emit = (level: string, event: string, fields?: LogFields) => {
    try {
      appendFileSync(path, `${JSON.stringify({ ts: new Date().toISOString(), level, component, event, ...base, ...fields })}\n`);
    } catch {
      /* the log is a convenience */
    }
  };
  return {
    debug: () => undefined,
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (f) => fileLogger(path, component, { ...base, ...f }),
  };
}
