/**
 * `sextant master --zk zk://H1:2181,H2:2181,H3:2181/sextant`: one of several masters over a
 * ZooKeeper ensemble. The master contends in `--zk-mesos-path` (default `/mesos`, where Mesos-DNS
 * looks); until elected it serves as a follower (FollowerServer: 307 to the leader on the Mesos
 * port, Marathon proxied). Once elected it loads everything from the ZooKeeper store (every write
 * fenced by its election znode), publishes its Marathon address in the ephemeral znode
 * `<chroot>/marathon/leader`, and runs as today. A leader that loses leadership exits (status 1),
 * as a Mesos master does: a supervisor restarts it as a follower with fresh state. A follower
 * whose session expires opens a new one and contends again, in process.
 */
import { randomUUID } from 'node:crypto';
import { createRegistry, type Logger } from '../common/index.js';
import { electionView, masterInfo, ZkElection } from './election.js';
import { FollowerServer } from './follower.js';
import { limitsFromEnv } from './limits.js';
import { warmMasterSchemas } from './warm.js';
import { Master, type MasterOptions } from './master.js';
import { ZkKvStore } from './store/zk.js';
import { secureMasterZnodes } from './zk/acl.js';
import { checkZkAccess } from './zk/access.js';
import { CreateMode, parseZkTarget, ZK, zkCode, ZkSession } from './zk/session.js';

export interface HaOptions {
  /** `zk://hosts/chroot` of the store. */
  zk: string;
  /** Election path on the same ensemble (default `/mesos`). */
  mesosPath?: string;
  sessionTimeoutMs?: number;
  maxValueBytes?: number;
  /** Digest credential `user:password` (from --zk-auth-file; one in the URL works too): znodes get its ACL (master/zk/acl.ts). */
  auth?: string;
}

/** 2 s: a dead leader is replaced within about 2-3 s (docs/benchmarks/ha.md; 4 s could not meet a 3 s failover). */
export const DEFAULT_ZK_SESSION_TIMEOUT_MS = 2000;

export interface HaRun {
  /** Resolves with the exit status once the master stops or loses leadership. */
  done: Promise<number>;
  stop(): Promise<void>;
}

/**
 * Start a master under ZooKeeper. `onLeader` starts the in-process components (plugins) and
 * returns their stop function. Resolves once the follower ports listen and the master contends.
 */
/** Take-over attempts when the ZooKeeper connection drops (not expires) during one. */
const TAKEOVER_ATTEMPTS = 3;

export async function runHaMaster(opts: MasterOptions, ha: HaOptions, log: Logger, onLeader: (m: Master) => Promise<() => Promise<void>>, onListening: (ip: string, port: number, marathonPort: number) => void): Promise<HaRun> {
  const target = { ...parseZkTarget(ha.zk), ...(ha.auth ? { auth: ha.auth } : {}) };
  // Before contending: the new leader's route building must not spend seconds in ajv.
  warmMasterSchemas(opts.limits ?? limitsFromEnv());
  const sessionTimeoutMs = ha.sessionTimeoutMs ?? DEFAULT_ZK_SESSION_TIMEOUT_MS;
  const session = new ZkSession(target, { sessionTimeoutMs });
  await session.connect();
  // A wrong or missing credential against a locked tree: stop here, naming it, before creating anything.
  await checkZkAccess(session, target.path, ha.mesosPath ?? '/mesos').catch((e: unknown) => {
    session.close();
    throw e;
  });
  const registry = opts.registry ?? createRegistry();
  const port = opts.port ?? 5050;
  const marathonPort = opts.marathonPort ?? 8080;
  const info = masterInfo({ id: randomUUID(), ip: opts.ip, port, ...(opts.hostname ? { hostname: opts.hostname } : {}) });
  let phase: 'follower' | 'starting' | 'leader' | 'stopped' = 'follower';
  // A follower whose session expired contends again on a new one; a leader exits (below).
  const election = new ZkElection({ session, path: ha.mesosPath ?? '/mesos', info, log, registry, recontend: () => phase === 'follower' });
  const chroot = target.path;
  const marathonZnode = `${chroot === '/' ? '' : chroot}/marathon/leader`;
  const follower = new FollowerServer({
    ip: opts.ip, port, marathonPort, registry, ...(opts.tls ? { tls: opts.tls.material } : {}),
    leader: () => election.current.leader && `${election.current.leader.address.ip}:${election.current.leader.address.port}`,
    marathonLeader: async () => {
      if (!election.current.leader || session.state !== 'connected') return undefined;
      return (await session.getData(marathonZnode).catch(() => undefined))?.data?.toString() || undefined;
    },
  });
  await follower.start();
  onListening(opts.ip, port, marathonPort);

  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  let master: Master | undefined;
  let stopPlugins: (() => Promise<void>) | undefined;

  const stop = async () => {
    if (phase === 'stopped') return;
    phase = 'stopped';
    await stopPlugins?.().catch((e) => log.warn('component_stop_failed', { err: e }));
    await master?.stop().catch((e) => log.warn('master_stop_failed', { err: e }));
    await follower.stop();
    await election.stop();
    session.close();
  };

  const becomeLeader = async () => {
    phase = 'starting';
    log.info('master_elected', { pid: info.pid, znode: election.znode });
    await follower.stop();
    // A connection dropped for a moment while taking over (a busy machine) is not a lost session:
    // wait for it to come back and take over again, as long as this master is still elected.
    for (let attempt = 1; ; attempt++) {
      try {
        await secureMasterZnodes(session, chroot, ha.mesosPath ?? '/mesos', log);
        const store = new ZkKvStore(session, chroot, { fence: election, ...(ha.maxValueBytes ? { maxValueBytes: ha.maxValueBytes } : {}) });
        await store.open();
        master = new Master({ ...opts, store, registry, logger: log, servicesPending: true, election: electionView(election) });
        await master.start();
        break;
      } catch (e) {
        if (attempt >= TAKEOVER_ATTEMPTS || phase !== 'starting' || session.state === 'connected') throw e;
        log.warn('leader_start_retry', { err: e, attempt, why: 'the ZooKeeper connection dropped while taking over; trying again once it is back' });
        await master?.stop().catch(() => undefined);
        master = undefined;
        if (!(await session.whenConnected(sessionTimeoutMs)) || !election.current.elected) throw e;
      }
    }
    takeoverWrites(master, log, TAKEOVER_STATS_MS);
    await publishMarathon(session, marathonZnode, `${opts.ip.includes(':') ? `[${opts.ip}]` : opts.ip}:${master.marathonPort}`);
    // The agents re-register and the first writes are served before the other services start:
    // they would compete for the CPU with the re-registrations (docs/benchmarks/ha.md).
    const t0 = performance.now();
    await master.agents.reregistered(REREGISTRATION_WAIT_MS);
    log.info('agents_reregistered', { ms: Math.round(performance.now() - t0), waiting_for: master.agents.notReregistered, bound_ms: REREGISTRATION_WAIT_MS });
    if (phase !== 'starting') return; // stopped meanwhile (leadership lost): start nothing
    stopPlugins = await onLeader(master);
    master.servicesStarted();
    if (phase === 'starting') phase = 'leader';
    log.info('master_leading', { pid: info.pid });
  };

  election.on('change', (v) => {
    if (v.elected && phase === 'follower')
      becomeLeader().catch(async (e) => {
        log.error('leader_start_failed', { err: e, why: 'could not take over as leader; exiting so a supervisor restarts this master' });
        await stop();
        finish(1);
      });
    else if (!v.elected && (phase === 'leader' || phase === 'starting')) {
      log.error('leadership_lost_exiting', { why: 'this master lost its ZooKeeper leadership; exiting (as Mesos does) so no stale state serves' });
      void stop().then(() => finish(1));
    }
  });
  await election.start().catch(async (e: unknown) => {
    await stop(); // the follower port and the session: nothing may keep this process alive
    throw e;
  });
  return {
    done,
    async stop() {
      await stop();
      finish(0);
    },
  };
}

/**
 * A new leader starts its other services once every agent active in its state re-registered, or
 * after this long (agents that are gone must not hold the services back).
 */
export const REREGISTRATION_WAIT_MS = 3000;

/** How long after taking over the store's write latencies are collected and logged (`takeover_store_writes`). */
const TAKEOVER_STATS_MS = 6000;

/**
 * Log the ZooKeeper write latencies of the first `ms` after the take-over (count, p50, p99, max):
 * the re-registrations and first writes happen then (docs/benchmarks/ha.md's breakdown).
 */
function takeoverWrites(master: Master, log: Logger, ms: number): void {
  const store = master.store as ZkKvStore;
  const inner = store.onWrite;
  const xs: number[] = [];
  const before = { ...store.batches };
  const mine = (s: number) => {
    inner?.(s);
    xs.push(s * 1000);
  };
  store.onWrite = mine;
  setTimeout(() => {
    if (store.onWrite === mine) store.onWrite = inner;
    const sorted = xs.sort((a, b) => a - b);
    const at = (p: number) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! * 10) / 10 : null);
    log.info('takeover_store_writes', { window_ms: ms, writes: sorted.length, p50_ms: at(50), p99_ms: at(99), max_ms: at(100), batches: store.batches.sent - before.sent, batched_puts: store.batches.puts - before.puts });
  }, ms).unref();
}

/** The ephemeral znode naming the leader's Marathon `host:port` (replaced when a stale one is there). */
async function publishMarathon(session: ZkSession, path: string, hostPort: string): Promise<void> {
  await session.mkdirp(path.slice(0, path.lastIndexOf('/')));
  for (let i = 0; i < 3; i++) {
    try {
      await session.create(path, Buffer.from(hostPort), CreateMode.EPHEMERAL);
      return;
    } catch (e) {
      if (zkCode(e) !== ZK.NODE_EXISTS) throw e;
      await session.remove(path).catch(() => undefined); // the old leader's, until its session expires
    }
  }
}
