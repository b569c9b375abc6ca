/**
 * A ZooKeeper ensemble from Debian's `zookeeper` package, for `sextant up --masters N` and the
 * tests: N servers (1, 3, 5), each a `java ... QuorumPeerMain zoo.cfg` process (its own process
 * group) with its own data dir (`myid`) and config under `dir/server<id>`. Ready when every running
 * server answers the `srvr` four-letter word with a Mode (leader, follower or standalone): there
 * is no event to await, so readiness is asked for, every 100 ms, within a bound. Servers are
 * stopped by PID (their process group), never by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { onExit } from 'signal-exit';

export const ZK_JAR = '/usr/share/java/zookeeper.jar';
const CONF_DIR = '/etc/zookeeper/conf';

/** The java binary on PATH, or undefined. */
export function findJava(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const d of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    const p = join(d, 'java');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** What is missing to run a ZooKeeper server here (one line each; empty: nothing). */
export function zooKeeperServerProblems(): string[] {
  const out: string[] = [];
  if (!findJava()) out.push('java is not on PATH (apt-get install default-jre-headless; Debian\'s zookeeper package pulls it in)');
  if (!existsSync(ZK_JAR)) out.push(`${ZK_JAR} is missing (apt-get install zookeeper)`);
  return out;
}

export interface ZkServerPorts {
  client: number;
  peer: number;
  election: number;
}

export interface ZkServer {
  /** 1-based: the server's myid. */
  readonly id: number;
  readonly host: string;
  readonly ports: ZkServerPorts;
  /** `host:clientPort` */
  readonly address: string;
  /** The running process's pid; undefined while stopped. */
  readonly pid: number | undefined;
}

export interface ZkEnsembleOptions {
  /** Where each server keeps `server<id>/{zoo.cfg,data,zookeeper.log}`. */
  dir: string;
  /**
   * One entry per server: the address it listens on and its ports; `wrap` turns the java command
   * into the one that runs it (e.g. inside a network namespace: `ip netns exec NS ...`), and `probe`
   * is where this process reaches its client port when that is not `host` (a forwarded address).
   */
  servers: { host: string; ports: ZkServerPorts; wrap?: (argv: string[]) => string[]; probe?: { host: string; port: number } }[];
  /** ZooKeeper tickTime (default 200 ms). */
  tickMs?: number;
  /** maxSessionTimeout in ms (default 50 ticks). */
  maxSessionTimeoutMs?: number;
  /** JVM heap (default 96m). */
  heap?: string;
  /** Called when a server process exits on its own (not through kill()/stop()). */
  onExit?(id: number, how: string): void;
}

interface Running {
  proc: ChildProcess;
  exited: Promise<void>;
  tail: string[];
  expected: boolean;
}

const SERVE_RE = /Mode: (leader|follower|standalone)/;

/** Ask one four-letter word; resolves with the answer ('' when the server does not answer). */
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

const hostPort = (h: string, p: number) => `${h.includes(':') ? `[${h}]` : h}:${p}`;

export class ZkEnsemble {
  readonly servers: ZkServer[];
  private readonly running = new Map<number, Running>();
  private readonly java: string;
  private stopping = false;
  /** Removes the exit hook that kills the servers if this process ends without stop(). */
  private unhookExit: (() => void) | undefined;

  constructor(private readonly o: ZkEnsembleOptions) {
    const problems = zooKeeperServerProblems();
    if (problems.length) throw new Error(`cannot run a ZooKeeper server: ${problems.join('; ')}`);
    if (![1, 3, 5].includes(o.servers.length)) throw new Error(`a ZooKeeper ensemble of ${o.servers.length} servers: use 1, 3 or 5`);
    this.java = findJava()!;
    const self = this;
    this.servers = o.servers.map((s, i) => ({
      id: i + 1,
      host: s.host,
      ports: s.ports,
      address: hostPort(s.host, s.ports.client),
      get pid() {
        const r = self.running.get(i + 1);
        return r && r.proc.exitCode === null && r.proc.signalCode === null ? r.proc.pid : undefined;
      },
    }));
  }

  /** `host:port,host:port,...` for a client. */
  get connect(): string {
    return this.servers.map((s) => s.address).join(',');
  }

  /** `zk://host:port,.../<path>` */
  url(path: string): string {
    return `zk://${this.connect}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** Start every server; resolves once all serve (rejects naming a server that exited or did not serve). */
  async start(timeoutMs = 60_000): Promise<void> {
    for (const s of this.servers) this.launch(s);
    await this.ready(timeoutMs);
  }

  /** Resolves when every running server answers `srvr` with a Mode. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const s of this.servers) {
        const r = this.running.get(s.id);
        if (r && s.pid === undefined && !r.expected) throw new Error(`ZooKeeper server ${s.id} (${s.address}) exited (${r.proc.exitCode ?? r.proc.signalCode}):\n${this.tailOf(s.id)}`);
      }
      const up = this.servers.filter((s) => s.pid !== undefined);
      const ok = await Promise.all(up.map((s) => this.serving(s)));
      if (ok.every(Boolean)) return;
      if (Date.now() > end) {
        const bad = up.filter((_, i) => !ok[i]).map((s) => `server ${s.id} (${s.address}):\n${this.tailOf(s.id)}`);
        throw new Error(`ZooKeeper ensemble not serving after ${timeoutMs} ms: ${bad.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Does this server answer with a Mode (it is part of a quorum, or standalone)? */
  async serving(s: ZkServer): Promise<boolean> {
    const at = this.o.servers[s.id - 1]?.probe ?? { host: s.host, port: s.ports.client };
    return SERVE_RE.test(await fourLetter(at.host, at.port, 'srvr'));
  }

  /** The last lines the server wrote (stdout and stderr). */
  tailOf(id: number): string {
    return (this.running.get(id)?.tail ?? []).join('').slice(-2000);
  }

  /** Signal one server's process group (default SIGKILL) and wait for it to exit. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const r = this.running.get(id);
    const s = this.servers[id - 1];
    if (!r || !s || s.pid === undefined) return;
    r.expected = true;
    signalGroup(r.proc.pid!, signal);
    await r.exited;
  }

  /** Start a stopped server again (same data dir) and wait until it serves. */
  async restart(id: number, timeoutMs = 60_000): Promise<void> {
    const s = this.servers[id - 1];
    if (!s) throw new Error(`no ZooKeeper server ${id}`);
    if (s.pid !== undefined) return;
    this.launch(s);
    const end = Date.now() + timeoutMs;
    while (!(await this.serving(s))) {
      if (s.pid === undefined) throw new Error(`ZooKeeper server ${id} exited on restart:\n${this.tailOf(id)}`);
      if (Date.now() > end) throw new Error(`ZooKeeper server ${id} not serving ${timeoutMs} ms after restart`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM every server (SIGKILL after graceMs) and wait for all to exit. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    this.unhookExit?.();
    this.unhookExit = undefined;
    await Promise.all(
      [...this.running.values()].map(async (r) => {
        if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
        r.expected = true;
        signalGroup(r.proc.pid!, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(r.proc.pid!, 'SIGKILL'), graceMs);
        await r.exited;
        clearTimeout(timer);
      }),
    );
  }

  private configFor(s: ZkServer): string {
    const dir = join(this.o.dir, `server${s.id}`);
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'myid'), `${s.id}\n`);
    const tick = this.o.tickMs ?? 200;
    const lines = [
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${s.ports.client}`,
      `clientPortAddress=${s.host}`,
      `tickTime=${tick}`,
      'initLimit=50',
      'syncLimit=10',
      `maxSessionTimeout=${this.o.maxSessionTimeoutMs ?? tick * 50}`,
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr,ruok,mntr',
      'preAllocSize=1024',
      // Leader election when a peer is cut off (packets dropped, not refused): each connection attempt
      // to it blocks the election's sender for cnxTimeout (5 s by default), and the notification
      // interval doubles up to 60 s while votes are missing, so the two live servers of three could
      // take minutes to elect (seen in the fault suite's partition). 1 s and at most 2 s between rounds.
      'cnxTimeout=1000',
      ...(this.servers.length > 1 ? this.servers.map((p) => `server.${p.id}=${hostPort(p.host, p.ports.peer)}:${p.ports.election}`) : []),
      '',
    ];
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, lines.join('\n'));
    return cfg;
  }

  private launch(s: ZkServer): void {
    if (this.stopping) throw new Error('ZooKeeper ensemble is stopping');
    // The servers run in process groups of their own: a process that exits (or is signalled)
    // without stop() would leave them running. signal-exit runs this on exit and on a fatal
    // signal nobody else handles (`sextant up` handles SIGINT/SIGTERM itself and calls stop()).
    this.unhookExit ??= onExit(() => {
      for (const r of this.running.values()) if (r.proc.exitCode === null && r.proc.signalCode === null) signalGroup(r.proc.pid!, 'SIGKILL');
    });
    const cfg = this.configFor(s);
    const logDir = join(this.o.dir, `server${s.id}`);
    const cp = existsSync(CONF_DIR) ? `${CONF_DIR}:${ZK_JAR}` : ZK_JAR;
    const argv = [
      this.java, `-Xmx${this.o.heap ?? '96m'}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto',
      '-Dzookeeper.admin.enableServer=false', `-Dzookeeper.log.dir=${logDir}`, '-Dzookeeper.fastleader.maxNotificationInterval=2000',
      '-cp', cp, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg,
    ];
    const [cmd, ...args] = this.o.servers[s.id - 1]?.wrap?.(argv) ?? argv;
    const proc = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const tail: string[] = [];
    const keep = (d: Buffer) => {
      tail.push(d.toString());
      if (tail.length > 50) tail.splice(0, tail.length - 50);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const r: Running = { proc, tail, expected: false, exited: Promise.resolve() };
    r.exited = new Promise((resolve) =>
      proc.once('exit', (code, sig) => {
        if (!r.expected) this.o.onExit?.(s.id, sig ?? `code ${code}`);
        resolve();
      }),
    );
    this.running.set(s.id, r);
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}
