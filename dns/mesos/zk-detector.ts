/**
 * Live Mesos leader detection through ZooKeeper: one session to the ensemble of the `zk://` URL,
 * the children of its path listed with a watch (re-armed on every event and every reconnect),
 * `json.info_<seq>` data read once per znode (ephemeral sequential znodes never change), the
 * lowest valid sequence is the leader. Reports `{ leader, masters }` on every change and the
 * session state; never throws: a lost or expired session is logged and re-established.
 */
import zookeeper from 'node-zookeeper-client';
import type { Logger } from '../../common/log.js';
import { watchReads } from '../../common/zk-read-timeout.js';
import { prom, type Registry } from '../../common/metrics.js';
import { leaderOrder, masterInfoAddress, parseZkUrl, znodeSeq, ZnodeError, type ZkUrl } from './zk.js';

export interface ZkView {
  /** Leader `host:port`, undefined when no valid `json.info_` znode exists. */
  leader?: string;
  /** Every valid master, leader first. */
  masters: string[];
}

export class ZkMetrics {
  readonly connected: prom.Gauge;
  readonly leaderChanges: prom.Counter;
  readonly malformed: prom.Counter;
  readonly noLeader: prom.Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.connected = new prom.Gauge({ name: 'sextant_mesos_dns_zk_connected', help: '1 while a ZooKeeper session is connected', registers });
    this.leaderChanges = new prom.Counter({ name: 'sextant_mesos_dns_zk_leader_changes_total', help: 'Leaders detected through ZooKeeper (first one included)', registers });
    this.malformed = new prom.Counter({ name: 'sextant_mesos_dns_zk_malformed_znodes_total', help: 'json.info znodes skipped because their MasterInfo was unusable', registers });
    this.noLeader = new prom.Counter({ name: 'sextant_mesos_dns_zk_detection_timeouts_total', help: 'Times no leader was known through ZooKeeper for ZkDetectionTimeout', registers });
  }
}

export interface ZkDetectorOptions {
  url: string;
  log: Logger;
  metrics: ZkMetrics;
  onChange: (view: ZkView) => void;
  /** Session state changes (true = connected). */
  onConnection?: (connected: boolean) => void;
  sessionTimeoutMs?: number;
  /** Delay before retrying after a failed list or an auth failure. */
  retryMs?: number;
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class ZkDetector {
  private readonly zk: ZkUrl;
  private client?: zookeeper.Client;
  private stopped = true;
  private generation = 0;
  private retryTimer?: NodeJS.Timeout;
  private abandonTimer?: NodeJS.Timeout;
  private stopReads?: () => void;
  private view: ZkView = { masters: [] };
  /** znode name -> address, or null when its data was malformed (logged once). */
  private readonly cache = new Map<string, string | null>();
  private readonly protobufLogged = new Set<string>();
  private isConnected = false;
  private readonly watcher = () => this.refresh();

  constructor(private readonly o: ZkDetectorOptions) {
    this.zk = parseZkUrl(o.url);
  }

  get connected(): boolean {
    return this.isConnected;
  }

  current(): ZkView {
    return this.view;
  }

  start(): void {
    this.stopped = false;
    this.o.metrics.connected.set(0);
    this.openSession();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.closeSession();
    this.setConnected(false);
  }

  private openSession(): void {
    if (this.stopped) return;
    const conn = this.zk.hosts.map((h) => (h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`)).join(',');
    this.cache.clear(); // a new session may be to an ensemble that reused sequence numbers
    const client = zookeeper.createClient(conn, { sessionTimeout: this.o.sessionTimeoutMs ?? 10_000, spinDelay: 500, retries: 0 });
    this.client = client;
    const mine = () => this.client === client && !this.stopped;
    // A partition that drops packets closes no socket: drop a connection heard nothing on, as
    // ZooKeeper's Java client does, so that a new leader is not missed (common/zk-read-timeout.ts).
    this.stopReads = watchReads(client, {
      connected: () => mine() && this.isConnected,
      sessionTimeoutMs: this.o.sessionTimeoutMs ?? 10_000,
      onSilent: (ms) => this.o.log.warn('zk_connection_silent', { silent_ms: Math.round(ms), why: 'nothing heard from the ZooKeeper server; dropping the connection to reach another server' }),
    });
    client.on('connected', () => {
      if (!mine()) return;
      this.clearAbandon();
      if (this.zk.auth) client.addAuthInfo('digest', Buffer.from(this.zk.auth));
      this.setConnected(true);
      this.refresh();
    });
    client.on('disconnected', () => {
      if (!mine()) return;
      this.setConnected(false);
      this.abandonLater(client);
    });
    client.on('expired', () => {
      if (!mine()) return;
      this.o.log.warn('zk_session_expired', { why: 'ZooKeeper session expired; opening a new one (last leader kept meanwhile)' });
      this.setConnected(false);
      this.closeSession();
      this.openSession();
    });
    client.on('authenticationFailed', () => {
      if (!mine()) return;
      this.o.log.error('zk_auth_failed', { why: `ZooKeeper rejected the credentials of the zk url; retrying in ${this.retryMs()} ms` });
      this.setConnected(false);
      this.closeSession();
      this.retryLater(() => this.openSession());
    });
    client.connect();
    this.abandonLater(client);
  }

  /**
   * Like Mesos, give up a session that stays disconnected longer than its timeout and open a new
   * one: the client library only learns of expiry from a server, and a server that lost its data
   * (or a partition) can refuse the old session forever.
   */
  private abandonLater(client: zookeeper.Client): void {
    if (this.abandonTimer) return; // counted from the first failure, not reset by each retry
    this.abandonTimer = setTimeout(() => {
      this.abandonTimer = undefined;
      if (this.client !== client || this.stopped || this.isConnected) return;
      this.o.log.warn('zk_session_abandoned', { why: 'no connection for longer than the session timeout; opening a new session' });
      this.closeSession();
      this.openSession();
    }, this.o.sessionTimeoutMs ?? 10_000);
    this.abandonTimer.unref?.();
  }

  private clearAbandon(): void {
    clearTimeout(this.abandonTimer);
    this.abandonTimer = undefined;
  }

  private closeSession(): void {
    this.clearAbandon();
    this.stopReads?.();
    this.stopReads = undefined;
    const c = this.client;
    this.client = undefined;
    this.generation++;
    if (c) {
      c.removeAllListeners();
      c.on('error', () => undefined);
      c.close();
    }
  }

  private setConnected(up: boolean): void {
    if (up === this.isConnected) return;
    this.isConnected = up;
    this.o.metrics.connected.set(up ? 1 : 0);
    if (up) this.o.log.info('zk_connected', { zk: this.zk.hosts.map((h) => `${h.host}:${h.port}`), path: this.zk.path });
    else if (!this.stopped) this.o.log.warn('zk_disconnected', { why: 'lost the ZooKeeper connection; reconnecting, last leader kept meanwhile', leader: this.view.leader ?? null });
    this.o.onConnection?.(up);
  }

  private retryMs(): number {
    return this.o.retryMs ?? 2000;
  }

  private retryLater(fn: () => void): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) fn();
    }, this.retryMs());
    this.retryTimer.unref?.();
  }

  /** List the children (arming the watch) and recompute the leader. */
  private refresh(): void {
    const client = this.client;
    if (!client || this.stopped) return;
    const gen = ++this.generation;
    client.getChildren(this.zk.path, this.watcher, (err, children) => {
      if (gen !== this.generation || this.stopped) return;
      if (err) return this.listFailed(client, gen, err);
      void this.readChildren(client, gen, children).catch((e) => this.o.log.error('zk_read_failed', { err: e }));
    });
  }

  private listFailed(client: zookeeper.Client, gen: number, err: Error | zookeeper.Exception): void {
    const code = 'getCode' in err ? err.getCode() : undefined;
    if (code === zookeeper.Exception.NO_NODE) {
      this.o.log.warn('zk_no_leader', { path: this.zk.path, why: `znode ${this.zk.path} does not exist (no Mesos master registered yet); watching for it` });
      this.publish({ masters: [] });
      // A watch on the path's existence: fires when Mesos creates it.
      client.exists(this.zk.path, this.watcher, (e, stat) => {
        if (gen === this.generation && !e && stat) this.refresh();
      });
      return;
    }
    if (code === zookeeper.Exception.CONNECTION_LOSS || code === zookeeper.Exception.SESSION_EXPIRED) return; // 'connected' re-lists
    this.o.log.warn('zk_list_failed', { path: this.zk.path, err: String(err), why: `retrying in ${this.retryMs()} ms` });
    this.retryLater(() => this.refresh());
  }

  private async readChildren(client: zookeeper.Client, gen: number, children: string[]): Promise<void> {
    for (const c of children)
      if (znodeSeq(c).kind === 'protobuf' && !this.protobufLogged.has(c)) {
        this.protobufLogged.add(c);
        this.o.log.warn('zk_znode_ignored', { znode: `${this.zk.path}/${c}`, why: 'protobuf info_ znode (Mesos < 0.24); only json.info_ znodes are read' });
      }
    const order = leaderOrder(children);
    const live = new Set(order);
    for (const k of this.cache.keys()) if (!live.has(k)) this.cache.delete(k);
    for (const k of this.protobufLogged) if (!children.includes(k)) this.protobufLogged.delete(k);
    const reads = await Promise.all(order.filter((c) => !this.cache.has(c)).map((c) => this.readOne(client, c)));
    if (gen !== this.generation || this.stopped) return;
    if (reads.includes('failed')) {
      // A znode we could not read may be the leader: publish nothing partial; list again.
      this.retryLater(() => this.refresh());
      return;
    }
    const masters = order.map((c) => this.cache.get(c)).filter((a): a is string => typeof a === 'string');
    this.publish({ ...(masters[0] ? { leader: masters[0] } : {}), masters: [...new Set(masters)] });
    if (!masters[0]) this.o.log.warn('zk_no_leader', { path: this.zk.path, znodes: children.length, why: order.length ? 'no json.info_ znode holds a usable MasterInfo' : 'no json.info_ znode under the path (no elected Mesos master)' });
  }

  private readOne(client: zookeeper.Client, name: string): Promise<'ok' | 'gone' | 'failed'> {
    const path = `${this.zk.path === '/' ? '' : this.zk.path}/${name}`;
    return new Promise((resolve) => {
      client.getData(path, (err, data) => {
        if (err) {
          // Deleted since the list (the children watch fires) or connection lost: not cached.
          const gone = 'getCode' in err && err.getCode() === zookeeper.Exception.NO_NODE;
          this.o.log.debug('zk_znode_unreadable', { znode: path, err: String(err) });
          return resolve(gone ? 'gone' : 'failed');
        }
        try {
          this.cache.set(name, masterInfoAddress(path, data));
        } catch (e) {
          this.cache.set(name, null);
          this.o.metrics.malformed.inc();
          this.o.log.warn('zk_znode_malformed', { znode: path, why: e instanceof ZnodeError ? e.message : String(e) });
        }
        resolve('ok');
      });
    });
  }

  private publish(v: ZkView): void {
    if (v.leader === this.view.leader && sameList(v.masters, this.view.masters)) return;
    const from = this.view.leader;
    this.view = v;
    if (v.leader && v.leader !== from) {
      this.o.metrics.leaderChanges.inc();
      this.o.log.info('zk_leader_changed', { from: from ?? null, to: v.leader, masters: v.masters });
    }
    this.o.onChange(v);
  }
}
