/**
 * A real ZooKeeper (Debian package `zookeeper`) for tests: one standalone server on a loopback
 * address, started as a tracked process (killed by PID on teardown), awaited by connecting a
 * client, never by sleeping. Classpath as /usr/share/zookeeper/bin/zkEnv.sh builds it (the jar's
 * manifest lists its dependencies in /usr/share/java).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import { MissingTestRequirement, requireTools, spawnTracked, type Tracked } from '../../../test/lib/index.js';

const JAR = '/usr/share/java/zookeeper.jar';
const CONF_DIR = '/etc/zookeeper/conf';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

export function requireZooKeeper(): string {
  const { java } = requireTools('java');
  if (!existsSync(JAR)) throw new MissingTestRequirement(`this test needs ${JAR} (apt-get install zookeeper); \`npm run setup\` installs it as root`);
  return java!;
}

export interface ZkServer {
  proc: Tracked;
  /** A connected admin client (its own session). */
  admin: zookeeper.Client;
  kill(): Promise<void>;
}

/** Start ZooKeeper on host:port (tickTime 500 ms: sessions of 1-10 s). */
export async function startZooKeeper(t: Teardownable, host: string, port: number, timeoutMs = 30_000): Promise<ZkServer> {
  const java = requireZooKeeper();
  const dir = mkdtempSync(join(tmpdir(), 'sx-zk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(cfg, [`dataDir=${join(dir, 'data')}`, `clientPort=${port}`, `clientPortAddress=${host}`, 'tickTime=500', 'maxClientCnxns=0', 'admin.enableServer=false', ''].join('\n'));
  const cp = existsSync(CONF_DIR) ? `${CONF_DIR}:${JAR}` : JAR;
  const proc = spawnTracked(t, java, ['-Xmx128m', '-XX:+UseSerialGC', '-Dzookeeper.admin.enableServer=false', '-cp', cp, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg]);
  const admin = await connectClient(`${host}:${port}`, timeoutMs, proc);
  t.teardown(() => admin.close());
  return {
    proc,
    admin,
    async kill() {
      admin.close();
      proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** Poll a connect: a fresh client every attempt until a session is established or time is up. */
export async function connectClient(conn: string, timeoutMs: number, proc?: Tracked): Promise<zookeeper.Client> {
  const end = Date.now() + timeoutMs;
  let exited: number | null | undefined;
  void proc?.exited.then((code) => (exited = code));
  while (Date.now() < end) {
    if (exited !== undefined) throw new Error(`ZooKeeper exited (${exited}) before accepting clients:\n${proc!.output().slice(-2000)}`);
    const c = zookeeper.createClient(conn, { sessionTimeout: 5000, spinDelay: 100, retries: 0 });
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), Math.min(3000, Math.max(0, end - Date.now())));
      c.once('connected', () => (clearTimeout(timer), resolve(true)));
      c.once('expired', () => (clearTimeout(timer), resolve(false)));
      c.connect();
    });
    if (ok) return c;
    c.close();
  }
  throw new Error(`ZooKeeper on ${conn} not reachable after ${timeoutMs} ms:\n${proc?.output().slice(-2000) ?? ''}`);
}

/** Promise wrappers for the admin client. */
export const zk = {
  create(c: zookeeper.Client, path: string, data?: string, mode = zookeeper.CreateMode.EPHEMERAL): Promise<string> {
    return new Promise((res, rej) => c.create(path, data === undefined ? null as unknown as Buffer : Buffer.from(data), mode, (e, p) => (e ? rej(e) : res(p))));
  },
  mkdirp(c: zookeeper.Client, path: string): Promise<string> {
    return new Promise((res, rej) => c.mkdirp(path, (e, p) => (e ? rej(e) : res(p))));
  },
  remove(c: zookeeper.Client, path: string): Promise<void> {
    return new Promise((res, rej) => c.remove(path, (e) => (e ? rej(e) : res())));
  },
};

/** The JSON MasterInfo a Mesos >= 0.24 master writes to `json.info_<seq>`. */
export function masterInfo(ip: string, port: number, id = 'master-' + port): string {
  const b = ip.split('.').map(Number);
  const u32 = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  return JSON.stringify({ address: { hostname: 'localhost', ip, port }, hostname: 'localhost', id, ip: u32, pid: `master@${ip}:${port}`, port, version: '1.4.0' });
}
