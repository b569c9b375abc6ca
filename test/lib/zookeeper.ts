/**
 * A real ZooKeeper ensemble for tests, from Debian's `zookeeper` package: N servers (1, 3, 5) on
 * free loopback ports, each a `java ... QuorumPeerMain zoo.cfg` process with its own data dir
 * (myid) under one per-run temp dir. Ready when every server answers the `srvr` four-letter word
 * with a Mode (leader, follower or standalone): awaited by asking, never by sleeping. Teardown
 * stops every server by PID and deletes the temp dir, even when the test fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingTestRequirement, requireTools } from './require.js';
import { freePort } from './net.js';
import { spawnTracked, type Tracked } from './proc.js';
import { uniqueName } from './names.js';

const JAR = '/usr/share/java/zookeeper.jar';
const CONF_DIR = '/etc/zookeeper/conf';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** The java binary; throws naming the Debian package when java or the ZooKeeper jar is missing. */
export function requireZooKeeperServer(): string {
  const { java } = requireTools('java');
  if (!existsSync(JAR)) throw new MissingTestRequirement(`this test needs ${JAR} (apt-get install zookeeper); .ci/run installs it`);
  return java!;
}

export interface ZkServerProc {
  /** 1-based, the server's myid. */
  id: number;
  host: string;
  clientPort: number;
  /** Undefined while stopped. */
  proc?: Tracked;
  readonly pid: number | undefined;
}

export interface Ensemble {
  servers: ZkServerProc[];
  /** `host:port,host:port,...` for a client. */
  connect: string;
  /** `zk://host:port,.../<path>` */
  url(path: string): string;
  /** kill -9 one server (by PID) and wait for it to exit. */
  kill(id: number): Promise<void>;
  /** Start a stopped server again (same data dir) and wait until it serves. */
  restart(id: number, timeoutMs?: number): Promise<void>;
  /** Resolve when every running server answers `srvr` with a Mode. */
  ready(timeoutMs?: number): Promise<void>;
}

export interface EnsembleOptions {
  /** Loopback address the servers listen on (default 127.0.0.1). */
  host?: string;
  /** ZooKeeper tickTime (default 200 ms: sessions may be 400 ms .. 4 s). */
  tickMs?: number;
  /** maxSessionTimeout in ms (default 50 ticks). */
  timeoutMs?: number;
}

/** Ask one four-letter word; resolves with the answer ('' when the server is not reachable). */
export function fourLetter(host: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect({ host, port });
    const done = () => {
      s.destroy();
      resolve(out);
    };
    s.setTimeout(timeoutMs, done);
    s.on('connect', () => s.write(word));
    s.on('data', (d) => (out += d.toString()));
    s.on('end', done);
    s.on('error', done);
  });
}

/** Start an ensemble of `size` servers; resolves once every server serves. */
export async function startEnsemble(t: Teardownable, size: 1 | 3 | 5, o: EnsembleOptions = {}): Promise<Ensemble> {
  const java = requireZooKeeperServer();
  const host = o.host ?? '127.0.0.1';
  const tick = o.tickMs ?? 200;
  const root = mkdtempSync(join(tmpdir(), `${uniqueName('zk')}-`));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const ports: { client: number; peer: number; election: number }[] = [];
  const taken = new Set<number>();
  const pick = async () => {
    for (;;) {
      const p = await freePort(host);
      if (!taken.has(p)) return taken.add(p), p;
    }
  };
  for (let i = 0; i < size; i++) ports.push({ client: await pick(), peer: await pick(), election: await pick() });
  const servers: ZkServerProc[] = ports.map((p, i) => {
    const s: ZkServerProc = {
      id: i + 1,
      host,
      clientPort: p.client,
      get pid() {
        return s.proc && s.proc.child.exitCode === null && s.proc.child.signalCode === null ? s.proc.pid : undefined;
      },
    };
    return s;
  });
  const cfgOf = (s: ZkServerProc) => {
    const dir = join(root, `server${s.id}`);
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'myid'), `${s.id}\n`);
    const lines = [
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${s.clientPort}`,
      `clientPortAddress=${host}`,
      `tickTime=${tick}`,
      'initLimit=50',
      'syncLimit=10',
      `maxSessionTimeout=${o.timeoutMs ?? tick * 50}`,
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr,ruok,mntr,stat',
      'preAllocSize=1024',
      ...(size > 1 ? ports.map((p, i) => `server.${i + 1}=${host}:${p.peer}:${p.election}`) : []),
      '',
    ];
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, lines.join('\n'));
    return cfg;
  };
  const cfgs = new Map(servers.map((s) => [s.id, cfgOf(s)]));
  const cp = existsSync(CONF_DIR) ? `${CONF_DIR}:${JAR}` : JAR;
  const launch = (s: ZkServerProc) => {
    s.proc = spawnTracked(t, java, [
      '-Xmx96m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto',
      '-Dzookeeper.admin.enableServer=false', `-Dzookeeper.log.dir=${root}`,
      '-cp', cp, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfgs.get(s.id)!,
    ], { graceMs: 2000 });
  };
  const serving = async (s: ZkServerProc) => /Mode: (leader|follower|standalone)/.test(await fourLetter(host, s.clientPort, 'srvr'));
  const ready = async (timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const running = servers.filter((s) => s.pid !== undefined);
      for (const s of servers) if (s.proc && s.pid === undefined && s.proc.child.exitCode !== null && s.proc.child.exitCode !== 0)
        throw new Error(`ZooKeeper server ${s.id} exited (${s.proc.child.exitCode}):\n${s.proc.output().slice(-2000)}`);
      const ok = await Promise.all(running.map(serving));
      if (ok.every(Boolean)) return;
      if (Date.now() > end) {
        const bad = running.filter((_, i) => !ok[i]).map((s) => `server ${s.id} (${host}:${s.clientPort}):\n${s.proc!.output().slice(-1500)}`);
        throw new Error(`ZooKeeper ensemble not serving after ${timeoutMs} ms: ${bad.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100)); // polling srvr: a server has no event to await
    }
  };
  for (const s of servers) launch(s);
  await ready();
  const connect = servers.map((s) => `${host}:${s.clientPort}`).join(',');
  return {
    servers,
    connect,
    url: (path) => `zk://${connect}${path.startsWith('/') ? path : `/${path}`}`,
    ready,
    async kill(id) {
      const s = servers[id - 1]!;
      if (!s.proc) return;
      s.proc.kill('SIGKILL');
      await s.proc.exited;
    },
    async restart(id, timeoutMs = 60_000) {
      const s = servers[id - 1]!;
      if (s.pid !== undefined) return;
      launch(s);
      const end = Date.now() + timeoutMs;
      while (!(await serving(s))) {
        if (s.pid === undefined) throw new Error(`ZooKeeper server ${id} exited on restart:\n${s.proc!.output().slice(-2000)}`);
        if (Date.now() > end) throw new Error(`ZooKeeper server ${id} not serving ${timeoutMs} ms after restart`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
