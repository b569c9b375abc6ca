/**
 * The entry point with nginx in front (`--admin-front nginx`, the default when /usr/sbin/nginx exists),
 * in the shape of DC/OS's Admin Router: nginx terminates TLS on the admin port and serves the hot reads
 * itself after a cached decision (front-conf.ts); the EntryServer runs behind it on a unix socket and
 * answers everything else, and the decision checks. nginx is this process's child, with its own
 * config, pid, Lua, certificates and keys in `dir` (0700); its workers run unprivileged when this process
 * is root, with what they open by path (Node's socket, logs, temp files) in `runDir`. Stopped by its PID
 * with the entry point. Same start/stop/port as EntryServer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../common/errors.js';
import type { TlsMaterial } from '../../common/tls-files.js';
import { frontRunDir, frontWorkerUser, type FrontWorkerUser } from './front-account.js';
import { LUA_MODULES, STATS_PATH, nginxConf, statsSocket, type FrontCheck, type FrontConf, type FrontUpstream } from './front-conf.js';
import { frontLua } from './front-lua.js';
import { sweepFrontRunDirs, writeOwner } from './front-sweep.js';
import { FrontLog } from './front-log.js';
import { FrontStats } from './front-stats.js';
import { createEntryMetrics } from './metrics.js';
import { EntryServer, type EntryOptions } from './server.js';

export const NGINX = '/usr/sbin/nginx';
const SETPRIV = '/usr/bin/setpriv';
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5000;

export interface NginxFrontOptions extends Omit<EntryOptions, 'cert' | 'key' | 'behind'> {
  /** PEM certificate (chain) and key of the admin port. */
  cert: string | Buffer;
  key: string | Buffer;
  /** The front's files (created 0700). */
  dir: string;
  /** This master's own ports: where nginx sends the hot reads. */
  local: { marathon: FrontUpstream; mesos: FrontUpstream; mesosDns: FrontUpstream };
  /** nginx worker processes (SEXTANT_ENTRY_WORKERS). */
  workers?: number;
  /** Default: `lua` when nginx's Lua module is installed, else `auth_request`. */
  check?: FrontCheck;
  /** The C check's module with `lua` (front-conf.ts): default checkModulePath() (undefined when not built); null: Lua alone. */
  checkModule?: string | null;
  nginx?: string;
  /** Where runtime directories go with unprivileged workers (tests); default /run/sextant. */
  runRoot?: string;
}

/** The check the front uses: SEXTANT_ENTRY_FRONT_CHECK, else Lua when its module is installed. */
export function defaultCheck(env: NodeJS.ProcessEnv = process.env): FrontCheck {
  const v = env.SEXTANT_ENTRY_FRONT_CHECK;
  if (v === 'lua' || v === 'auth_request') return v;
  if (v) throw new ConfigError('SEXTANT_ENTRY_FRONT_CHECK', `'${v}' is not lua or auth_request`);
  return LUA_MODULES.every((m) => fs.existsSync(m)) ? 'lua' : 'auth_request';
}

/** The nginx module of the front's C check (native/nginx-sextant/, built by scripts/build-native.mjs), or undefined when not built. */
export function checkModulePath(): string | undefined {
  for (const rel of ['../../native/build/nginx/ngx_http_sextant_check_module.so', '../../../native/build/nginx/ngx_http_sextant_check_module.so']) {
    const f = fileURLToPath(new URL(rel, import.meta.url));
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

/** The name nginx must find in the upstream's certificate: its first DNS name, else its CN (OpenSSL's host check). */
export function certName(pem: string | Buffer): string {
  const c = new X509Certificate(pem);
  const dns = c.subjectAltName?.split(', ').find((s) => s.startsWith('DNS:'));
  if (dns) return dns.slice(4);
  const cn = c.subject.split('\n').find((s) => s.startsWith('CN='));
  if (!cn) throw new ConfigError('--tls-cert', 'the master certificate has neither a DNS name nor a CN: the nginx front cannot check its upstreams');
  return cn.slice(3);
}

export class NginxFront {
  readonly entry: EntryServer;
  readonly check: FrontCheck;
  /** The C check's module, when the check is `lua`, it is built and nginx loads it. */
  private cmod: string | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  /** What feeds the metrics of the requests nginx served: the C module's counters, else the access log. */
  private log: FrontLog | FrontStats | undefined;
  private stderr = '';
  private readonly socket: string;
  /** Who the workers run as (nginx started as root), else undefined. */
  readonly workerUser: FrontWorkerUser | undefined;
  /** What the workers open by path (socket, temp dirs, logs): `dir`, or frontRunDir(dir) with a worker user. */
  readonly runDir: string;

  constructor(private readonly o: NginxFrontOptions) {
    this.check = o.check ?? defaultCheck();
    this.cmod = this.check === 'lua' ? (o.checkModule === undefined ? checkModulePath() : o.checkModule ?? undefined) : undefined;
    this.workerUser = frontWorkerUser(o.log);
    this.runDir = this.workerUser ? frontRunDir(o.dir, o.runRoot) : o.dir;
    this.socket = path.join(this.runDir, 'entry.sock');
    const { cert: _c, key: _k, dir: _d, local: _l, workers: _w, check: _ch, checkModule: _cm, nginx: _n, runRoot: _r, ...entry } = o;
    const limits = o.limits ?? {};
    this.entry = new EntryServer({ ...entry, cert: '', key: '', behind: { socket: this.socket, decisionMs: limits.frontDecisionMs ?? 1000 } });
  }

  private listenPort = 0;

  get port(): number {
    return this.listenPort || this.o.port;
  }

  /** The C check's module when the front uses it (after start: undefined if nginx refused it). */
  get checkModule(): string | undefined {
    return this.cmod;
  }

  get limits() {
    return this.entry.limits;
  }

  get cachedTokens(): number {
    return this.entry.cachedTokens;
  }

  /** The front's directory (configuration, Lua, pid, certificates and keys; with one user, also what runDir holds). */
  get dir(): string {
    return this.o.dir;
  }

  /** nginx's master process id (for the benchmark's CPU figures). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private write(name: string, data: string | Buffer, mode = 0o600): string {
    const f = path.join(this.o.dir, name);
    fs.writeFileSync(f, data, { mode });
    fs.chmodSync(f, mode);
    return f;
  }

  private conf(): FrontConf {
    const d = this.o.dir;
    const tls = this.o.upstreamTls;
    return {
      dir: d,
      runDir: this.runDir,
      listen: { host: this.o.host, port: this.port },
      cert: this.write('entry.crt', this.o.cert),
      key: this.write('entry.key', this.o.key),
      workers: this.o.workers ?? this.entry.limits.workers,
      socket: this.socket,
      check: this.check,
      ...this.o.local,
      ...(tls ? { upstreamTls: upstreamFiles(this, tls) } : {}),
      upstreamTimeoutMs: this.entry.limits.upstreamTimeoutMs,
      accessLog: path.join(this.runDir, 'access.log'),
      luaFile: this.write('front.lua', frontLua(this.socket, this.cmod !== undefined)),
      ...(this.cmod ? { checkModule: this.cmod } : {}),
      ...(this.workerUser ? { user: `${this.workerUser.user} ${this.workerUser.group}` } : {}),
      maxHeaderBytes: this.entry.limits.maxHeaderBytes,
    };
  }

  /** `mode`, and with workers of another user, root:their group (else this process's own, 0700-style). */
  private shareWithWorkers(f: string, mode: number): void {
    if (this.workerUser) fs.chownSync(f, 0, this.workerUser.gid);
    fs.chmodSync(f, this.workerUser ? mode : mode & 0o700);
  }

  /** Write a file of the front's (for upstreamFiles). */
  file(name: string, data: string | Buffer): string {
    return this.write(name, data);
  }

  async start(): Promise<void> {
    const bin = this.o.nginx ?? NGINX;
    if (!fs.existsSync(bin)) throw new ConfigError('--admin-front', `nginx (${bin}) is not installed: install Debian's nginx-light (and libnginx-mod-http-lua), or use --admin-front node`);
    // Only the master (root) reads the configuration, Lua, certificates and keys (at start and reload):
    // `dir` stays 0700. The workers pass through `runDir` (group search, no listing) to the socket, their
    // temp dirs (nginx makes tmp/* theirs) and the logs they reopen.
    fs.mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.o.dir, 0o700);
    if (this.runDir !== this.o.dir) {
      const parent = path.dirname(this.runDir);
      fs.mkdirSync(parent, { recursive: true });
      fs.chmodSync(parent, 0o755); // whatever the umask: the workers must pass it
      await sweepFrontRunDirs(parent, this.o.log, this.runDir); // fronts killed without stopping
      fs.mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
      writeOwner(this.runDir); // first: the sweep of a front starting beside this one keeps it
    }
    const tmp = path.join(this.runDir, 'tmp');
    fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
    this.shareWithWorkers(this.runDir, 0o710);
    this.shareWithWorkers(tmp, 0o710);
    // Port 0 (tests): nginx cannot pick one itself; take one the kernel has free now.
    this.listenPort = this.o.port || (await freePortOn(this.o.host));
    const c = this.conf();
    const confFile = this.write('nginx.conf', nginxConf(c));
    fs.writeFileSync(c.accessLog, '', { flag: 'a' });
    fs.rmSync(statsSocket(c), { force: true }); // left by an nginx killed: its bind would fail
    const args = ['-p', this.o.dir, '-e', this.errorLog, '-c', confFile];
    let test = await runOnce(bin, ['-t', '-q', ...args]);
    if (test.code !== 0 && this.cmod) {
      // A module built for another nginx (upgraded since `npm run build`) is refused: the Lua check alone.
      this.o.log.warn('entry_front_check_module_refused', { module: this.cmod, error: test.out.trim().slice(0, 500), check: 'lua' });
      this.cmod = undefined;
      this.write('nginx.conf', nginxConf(this.conf()));
      test = await runOnce(bin, ['-t', '-q', ...args]);
    }
    if (test.code !== 0) throw new ConfigError('--admin-front', `nginx refused its configuration (${confFile}): ${test.out.trim()}`);
    await this.entry.start();
    try {
      this.shareWithWorkers(this.socket, 0o660);
      await this.spawn(bin, args);
    } catch (e) {
      await this.entry.stop();
      throw e;
    }
    const metrics = this.o.metrics ?? createEntryMetrics(this.o.registry);
    this.log = this.cmod
      ? new FrontStats(statsSocket(c), STATS_PATH, metrics, (error) => this.o.log.warn('entry_front_counters_unread', { error }))
      : new FrontLog(c.accessLog, metrics, () => this.signal('SIGUSR1'));
    this.log.start();
    this.o.log.info('entry_listening', { address: this.o.host, port: this.port, front: 'nginx', check: this.cmod ? 'c+lua' : this.check, pid: this.child?.pid });
  }

  private async spawn(bin: string, args: string[]): Promise<void> {
    // setpriv --pdeathsig: nginx gets SIGTERM when this process dies without stopping it (killed).
    const child = fs.existsSync(SETPRIV) ? spawn(SETPRIV, ['--pdeathsig', 'SIGTERM', '--', bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      if (this.child === child) {
        this.child = undefined;
        this.o.log.error('entry_front_exited', { code, signal, stderr: this.stderr.trim(), hint: `see ${this.errorLog}` });
      }
      resolve();
    }));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!this.child) throw new Error(`nginx exited at start: ${this.stderr.trim() || `see ${this.errorLog}`}`);
      if (await accepts(this.o.host, this.port)) return;
      if (Date.now() > deadline) {
        await this.stopNginx();
        throw new Error(`nginx did not listen on ${this.o.host}:${this.port} within ${START_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private signal(s: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid) {
      try {
        process.kill(pid, s);
      } catch {
        /* already gone */
      }
    }
  }

  private async stopNginx(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    try {
      process.kill(child.pid!, 'SIGQUIT');
    } catch {
      /* gone */
    }
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Take in nginx's counts now (they are otherwise read every second): for tests. */
  async readCounts(): Promise<void> {
    await this.log?.read();
  }

  async stop(): Promise<void> {
    if (this.log instanceof FrontStats) await this.log.stop(); // while nginx still answers
    await this.stopNginx();
    if (this.log instanceof FrontLog) this.log.stop(); // what nginx flushed as it exited
    this.log = undefined;
    await this.entry.stop();
    fs.rmSync(this.socket, { force: true });
    if (this.runDir !== this.o.dir) fs.rmSync(this.runDir, { recursive: true, force: true });
  }

  private get errorLog(): string {
    return path.join(this.runDir, 'error.log');
  }
}

/** The master's mutual-TLS material as files for nginx (0600), and the name its certificate holds. */
function upstreamFiles(f: NginxFront, tls: TlsMaterial): NonNullable<FrontConf['upstreamTls']> {
  return { cert: f.file('upstream.crt', tls.cert), key: f.file('upstream.key', tls.key), ca: f.file('upstream-ca.crt', tls.ca), name: certName(tls.cert) };
}

function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function runOnce(bin: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.once('error', (e) => resolve({ code: 1, out: e.message }));
    p.once('close', (code) => resolve({ code: code ?? 1, out }));
  });
}
