/**
 * A real ZooKeeper ensemble for tests: the product's launcher (master/zk/ensemble.ts, what
 * `sextant up --masters N` runs) on free loopback ports under one per-run temp dir. Teardown stops
 * every server by PID and deletes the temp dir, even when the test fails.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fourLetter, ZK_JAR, ZkEnsemble, type ZkServer } from '../../master/zk/ensemble.js';
import { MissingTestRequirement, requireTools } from './require.js';
import { freePort } from './net.js';
import { uniqueName } from './names.js';

export { fourLetter };

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** The java binary; throws naming the Debian package when java or the ZooKeeper jar is missing. */
export function requireZooKeeperServer(): string {
  const { java } = requireTools('java');
  if (!existsSync(ZK_JAR)) throw new MissingTestRequirement(`this test needs ${ZK_JAR} (apt-get install zookeeper); .ci/run installs it`);
  return java!;
}

export interface ZkServerProc extends ZkServer {
  clientPort: number;
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
  /** The launcher itself. */
  ensemble: ZkEnsemble;
}

export interface EnsembleOptions {
  /** Loopback address the servers listen on (default 127.0.0.1). */
  host?: string;
  /** ZooKeeper tickTime (default 200 ms: sessions may be 400 ms .. 4 s). */
  tickMs?: number;
  /** maxSessionTimeout in ms (default 50 ticks). */
  timeoutMs?: number;
}

/** Start an ensemble of `size` servers; resolves once every server serves. */
export async function startEnsemble(t: Teardownable, size: 1 | 3 | 5, o: EnsembleOptions = {}): Promise<Ensemble> {
  requireZooKeeperServer();
  const host = o.host ?? '127.0.0.1';
  const root = mkdtempSync(join(tmpdir(), `${uniqueName('zk')}-`));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const taken = new Set<number>();
  const pick = async () => {
    for (;;) {
      const p = await freePort(host);
      if (!taken.has(p)) return taken.add(p), p;
    }
  };
  const servers = [];
  for (let i = 0; i < size; i++) servers.push({ host, ports: { client: await pick(), peer: await pick(), election: await pick() } });
  const ens = new ZkEnsemble({ dir: root, servers, tickMs: o.tickMs ?? 200, ...(o.timeoutMs ? { maxSessionTimeoutMs: o.timeoutMs } : {}) });
  t.teardown(() => ens.stop(2000));
  await ens.start();
  const procs: ZkServerProc[] = ens.servers.map((s) =>
    Object.defineProperties({} as ZkServerProc, {
      id: { value: s.id, enumerable: true },
      host: { value: s.host, enumerable: true },
      ports: { value: s.ports, enumerable: true },
      address: { value: s.address, enumerable: true },
      clientPort: { value: s.ports.client, enumerable: true },
      pid: { get: () => s.pid, enumerable: true },
    }),
  );
  return {
    servers: procs,
    connect: ens.connect,
    url: (path) => ens.url(path),
    ready: (ms) => ens.ready(ms),
    kill: (id) => ens.kill(id, 'SIGKILL'),
    restart: (id, ms) => ens.restart(id, ms),
    ensemble: ens,
  };
}
