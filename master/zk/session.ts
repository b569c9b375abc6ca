/**
 * One ZooKeeper session (node-zookeeper-client) with promise-returning operations, the session's
 * state as events, and `reopen()` for a fresh session after expiry. Errors keep ZooKeeper's code
 * (`zkCode(e)`), so callers can tell NO_NODE from CONNECTION_LOSS.
 */
import { EventEmitter } from 'node:events';
import zookeeper from 'node-zookeeper-client';
import { ConfigError } from '../../common/index.js';
import { parseZkUrl, redactZkUrl, zkConnectString } from '../../common/zk-url.js';
import { watchReads } from '../../common/zk-read-timeout.js';
import { privateAcl, worldReadAcl, type ZkAcl } from './acl.js';

export const ZK = zookeeper.Exception;
export const CreateMode = zookeeper.CreateMode;

export interface ZkTarget {
  /** `host:port,host:port` */
  connect: string;
  /** The path of the URL (`/sextant`), `/` when none. */
  path: string;
  auth?: string;
}

/**
 * `zk://[user:pass@]H1:2181,H2,[::1]:2181/path` -> connect string and path (port 2181 when absent);
 * a bad URL is a ConfigError naming `flag`.
 */
export function parseZkTarget(url: string, flag = '--zk'): ZkTarget {
  const z = parseZkUrl(url, flag);
  if (z.path !== '/' && z.path.split('/').slice(1).some((seg) => seg === '' || seg === '.' || seg === '..')) throw new ConfigError(flag, `bad zk path ${z.path} in ${redactZkUrl(url)}`);
  return { connect: zkConnectString(z), path: z.path, ...(z.auth ? { auth: z.auth } : {}) };
}

export function zkCode(e: unknown): number | undefined {
  return e && typeof e === 'object' && 'getCode' in e && typeof (e as { getCode: unknown }).getCode === 'function' ? (e as zookeeper.Exception).getCode() : undefined;
}

export type SessionState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

export interface ZkSessionOptions {
  /** Requested session timeout (the server clamps it to [2, 20] ticks). */
  sessionTimeoutMs?: number;
  /** How long connect() waits for the first session. */
  connectTimeoutMs?: number;
}

type Cb<T> = (e: Error | zookeeper.Exception | null, v: T) => void;

/** node-zookeeper-client's packet type of an auth packet (jute OP_CODES.AUTH). */
const OP_AUTH = 100;

interface Packet {
  request: { header: { type: number } | null };
}
interface ConnectionManagerInternals {
  onSocketConnected(this: ConnectionManagerInternals): void;
  packetQueue: { queue: Packet[] };
}

/**
 * On a new connection node-zookeeper-client queues the auth packets behind the requests made
 * while the connection was down, so the server would run those without the credential: NoAuth on
 * the masters' znodes after any reconnection (a store write or a read that waited for the
 * connection). This moves the auth packets to the front of the queue, as ZooKeeper's Java client
 * sends them. It reaches into the client's connection manager (node-zookeeper-client 1.1.x);
 * should that change, connecting with a credential fails here rather than later with NoAuth.
 */
function authFirst(c: zookeeper.Client): void {
  const cm = (c as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
  if (typeof cm?.onSocketConnected !== 'function' || !Array.isArray(cm.packetQueue?.queue))
    throw new Error('node-zookeeper-client: its connection manager is not the one ZkSession knows (authFirst): a digest credential could be sent after requests');
  const sendConnect = cm.onSocketConnected;
  cm.onSocketConnected = function (this: ConnectionManagerInternals) {
    sendConnect.call(this);
    const q = this.packetQueue.queue;
    const auth = q.filter((p) => p.request.header?.type === OP_AUTH);
    if (auth.length && q.indexOf(auth[auth.length - 1]!) !== auth.length - 1) this.packetQueue.queue = [...auth, ...q.filter((p) => p.request.header?.type !== OP_AUTH)];
  };
}

/**
 * Events: 'state' (SessionState); 'silent' (ms): a connection on which nothing was heard for that
 * long was dropped, to reach another server (common/zk-read-timeout.ts).
 */
export class ZkSession extends EventEmitter {
  readonly target: ZkTarget;
  private c?: zookeeper.Client;
  private stopReads?: () => void;
  private st: SessionState = 'closed';
  /** Send time (Date.now) of the latest request ZooKeeper answered: the session was alive then. */
  lastHeard = 0;

  constructor(
    target: ZkTarget | string,
    readonly opts: ZkSessionOptions = {},
  ) {
    super();
    this.target = typeof target === 'string' ? parseZkTarget(target) : target;
  }

  get state(): SessionState {
    return this.st;
  }
  /** The masters' own znodes: ALL for the credential's digest identity, nothing for world (open without a credential). */
  get acl(): ZkAcl[] {
    return privateAcl(this.target.auth);
  }
  /** Znodes others read without a credential (the election under /mesos): world READ, ALL for the identity. */
  get worldReadAcl(): ZkAcl[] {
    return worldReadAcl(this.target.auth);
  }
  get sessionTimeoutMs(): number {
    return this.opts.sessionTimeoutMs ?? 4000;
  }
  /** The underlying client (for transactions). Throws when no session is open. */
  get client(): zookeeper.Client {
    if (!this.c) throw new Error('ZooKeeper session not open');
    return this.c;
  }

  /** Open a session; resolves when connected, rejects after connectTimeoutMs naming the ensemble. */
  connect(): Promise<void> {
    this.closeClient();
    const c = zookeeper.createClient(this.target.connect, { sessionTimeout: this.sessionTimeoutMs, spinDelay: 200, retries: 0 });
    this.c = c;
    this.set('connecting');
    const mine = () => this.c === c;
    if (this.target.auth) {
      // Once, before connecting: the client sends it on every (re)connection (adding it on each
      // 'connected' would pile up copies); authFirst puts it ahead of requests queued meanwhile.
      authFirst(c);
      c.addAuthInfo('digest', Buffer.from(this.target.auth));
    }
    // A partition that drops packets closes no socket: without a read timeout this session would
    // stay "connected" to a server it no longer hears while the ensemble expires it.
    this.stopReads = watchReads(c, { connected: () => mine() && this.st === 'connected', sessionTimeoutMs: this.sessionTimeoutMs, onSilent: (ms) => this.emit('silent', ms) });
    c.on('connected', () => mine() && this.set('connected'));
    c.on('disconnected', () => mine() && this.set('disconnected'));
    c.on('expired', () => mine() && this.set('expired'));
    c.connect();
    const ms = this.opts.connectTimeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const onState = (s: SessionState) => {
        if (s === 'connected') done();
        else if (s === 'expired' || s === 'closed') done(new Error(`ZooKeeper session to ${this.target.connect} ${s} while connecting`));
      };
      const timer = setTimeout(() => done(new Error(`no ZooKeeper session to ${this.target.connect} after ${ms} ms (is the ensemble up and a quorum reachable?)`)), ms);
      const done = (e?: Error) => {
        clearTimeout(timer);
        this.off('state', onState);
        if (e) reject(e);
        else resolve();
      };
      this.on('state', onState);
      if (this.st === 'connected') done();
    });
  }

  /**
   * Resolves true once the session is connected (at once if it is), false when it expires or
   * closes, or after `ms`: a connection dropped for a moment (a busy machine) comes back with the
   * same session, and what waited goes on.
   */
  whenConnected(ms: number): Promise<boolean> {
    if (this.st === 'connected') return Promise.resolve(true);
    if (this.st === 'expired' || this.st === 'closed') return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (v: boolean) => (clearTimeout(timer), this.off('state', on), resolve(v));
      const on = (s: SessionState) => (s === 'connected' ? done(true) : s === 'expired' || s === 'closed' ? done(false) : undefined);
      const timer = setTimeout(() => done(false), ms);
      this.on('state', on);
    });
  }

  close(): void {
    this.closeClient();
    this.set('closed');
  }

  private closeClient(): void {
    const c = this.c;
    this.c = undefined;
    this.stopReads?.();
    this.stopReads = undefined;
    if (c) {
      c.removeAllListeners();
      c.on('error', () => undefined);
      c.close();
    }
  }

  private set(s: SessionState): void {
    if (s === this.st) return;
    this.st = s;
    this.emit('state', s);
  }

  /** Record that a request sent at `sentAt` got an answer from a server (any answer but a lost connection). */
  answered(sentAt: number, e?: unknown): void {
    const code = e ? zkCode(e) : undefined;
    if (e && (code === undefined || code === ZK.CONNECTION_LOSS || code === ZK.SESSION_EXPIRED || code === ZK.OPERATION_TIMEOUT)) return;
    if (sentAt > this.lastHeard) this.lastHeard = sentAt;
  }

  private call<T>(fn: (cb: Cb<T>) => void): Promise<T> {
    const t0 = Date.now();
    return new Promise((resolve, reject) => fn((e, v) => (this.answered(t0, e), e ? reject(e) : resolve(v))));
  }

  getData(path: string, watch?: () => void): Promise<{ data: Buffer | undefined; version: number }> {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const cb = (e: Error | zookeeper.Exception | null, data: Buffer, stat: zookeeper.Stat) => (this.answered(t0, e), e ? reject(e) : resolve({ data: data ?? undefined, version: stat.version }));
      if (watch) this.client.getData(path, watch, cb);
      else this.client.getData(path, cb);
    });
  }
  children(path: string, watch?: () => void): Promise<string[]> {
    return this.call<string[]>((cb) => (watch ? this.client.getChildren(path, watch, cb) : this.client.getChildren(path, cb)));
  }
  exists(path: string, watch?: () => void): Promise<boolean> {
    return this.call<zookeeper.Stat | null>((cb) => (watch ? this.client.exists(path, watch, cb) : this.client.exists(path, cb))).then((s) => !!s);
  }
  /** Create a znode with `acl` (default: this session's private ACL). */
  create(path: string, data: Buffer | undefined, mode: number = CreateMode.PERSISTENT, acl: ZkAcl[] = this.acl): Promise<string> {
    return this.call<string>((cb) => this.client.create(path, data ?? (null as unknown as Buffer), acl, mode, cb));
  }
  /** Create `path` and its missing parents with `acl` (default: this session's private ACL). */
  mkdirp(path: string, acl: ZkAcl[] = this.acl): Promise<string> {
    return this.call<string>((cb) => this.client.mkdirp(path, acl, cb));
  }
  remove(path: string, version = -1): Promise<void> {
    return this.call<void>((cb) => this.client.remove(path, version, (e) => cb(e, undefined)));
  }
  /** Commit a transaction built by `build`; rejects with the first failing op's error. */
  multi(build: (tx: zookeeper.Transaction) => void): Promise<void> {
    const tx = this.client.transaction();
    build(tx);
    return this.call<unknown>((cb) => tx.commit(cb)).then(() => undefined);
  }
}
