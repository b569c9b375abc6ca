/**
 * Leader election through ZooKeeper, published the way Mesos masters do: each master holds an
 * ephemeral sequential znode `<path>/json.info_<seq>` (path e.g. `/mesos`) with its MasterInfo as
 * JSON; the lowest sequence leads. Every contender watches the children of the path (there are 3
 * or 5 masters, so the herd a children watch wakes is small), which also tells followers the
 * leader's address for redirects, and every contender's MasterInfo (read once per znode) for the
 * control plane's `masters` part (MasterHandle.election). The election is the store's fence:
 * `guard()` returns the leader's own znode for the store's multi-op `check`, and throws
 * NotLeaderError the moment this master is not elected or its session is not connected. A session
 * that expires loses the znode (ZooKeeper deletes it), so the `check` of any write still in flight
 * fails: two masters never both commit.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { prom, type Logger, type Registry } from '../common/index.js';
import type { ElectedMaster, MasterElection } from '../contracts/index.js';
import { LeaseUnverifiedError, NotLeaderError } from './errors.js';
import type { Fence } from './store/zk.js';
import { CreateMode, ZK, zkCode, type ZkSession, type SessionState } from './zk/session.js';

/** Mesos's MasterInfo as the JSON Mesos >= 0.24 writes (the fields Mesos-DNS reads). */
export interface MasterInfo {
  id: string;
  /** IPv4 address as a uint32 in network byte order read little-endian (Mesos's encoding); absent for IPv6. */
  ip?: number;
  port: number;
  pid: string;
  hostname: string;
  version: string;
  address: { ip: string; port: number; hostname: string };
}

export const MESOS_VERSION = '1.4.0';

export function masterInfo(o: { id: string; ip: string; port: number; hostname?: string; version?: string }): MasterInfo {
  const hostname = o.hostname ?? o.ip;
  const v4 = net.isIPv4(o.ip) ? o.ip.split('.').map(Number) : undefined;
  return {
    id: o.id,
    ...(v4 ? { ip: (v4[0]! | (v4[1]! << 8) | (v4[2]! << 16) | (v4[3]! << 24)) >>> 0 } : {}),
    port: o.port,
    pid: `master@${net.isIPv6(o.ip) ? `[${o.ip}]` : o.ip}:${o.port}`,
    hostname,
    version: o.version ?? MESOS_VERSION,
    address: { ip: o.ip, port: o.port, hostname },
  };
}

const PREFIX = 'json.info_';
const seqOf = (name: string) => Number(name.slice(PREFIX.length));

/** A znode's data as MasterInfo, or the reason it is not (id, address.ip and address.port are what is used). */
export function parseMasterInfo(data: Buffer | undefined): MasterInfo | string {
  let v: unknown;
  try {
    v = JSON.parse(data?.toString() ?? '');
  } catch {
    return 'not JSON';
  }
  const o = v as Partial<MasterInfo> | null;
  if (!o || typeof o !== 'object') return 'not a JSON object';
  if (typeof o.id !== 'string' || !o.id) return 'no string `id`';
  const a = o.address;
  if (!a || typeof a !== 'object' || typeof a.ip !== 'string' || !net.isIP(a.ip)) return 'no IP address in `address.ip`';
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) return '`address.port` is not a port number';
  return o as MasterInfo;
}

/** A contender's MasterInfo, null when unreadable (logged once), 'gone' when deleted since listed. */
type Read = MasterInfo | null | 'gone';

export interface ElectionView {
  elected: boolean;
  /** The current leader's MasterInfo (this master's own when elected); undefined when none. */
  leader?: MasterInfo;
}

export interface ElectionOptions {
  session: ZkSession;
  /** The Mesos path (`/mesos`). */
  path: string;
  info: MasterInfo;
  log: Logger;
  registry?: Registry;
  /** Asked when the session expires: true to open a new session and contend again (a follower). */
  recontend?: () => boolean;
}

/** Events: 'change' (ElectionView), 'masters' (ElectedMaster[]: the contenders or the leader changed). */
export class ZkElection extends EventEmitter implements Fence {
  private mine?: string;
  private view: ElectionView = { elected: false };
  private contenders: ElectedMaster[] = [];
  /** Each other contender's MasterInfo by znode name, read once (znode data does not change). */
  private readonly infos = new Map<string, Promise<Read>>();
  private stopped = true;
  private gen = 0;
  private readonly metrics?: { elected: prom.Gauge; changes: prom.Counter; session: prom.Gauge; expirations: prom.Counter; masters: prom.Gauge };
  private readonly onState = (s: SessionState) => this.sessionState(s);
  private readonly onSilent = (ms: number) =>
    this.o.log.warn('zk_connection_silent', { silent_ms: Math.round(ms), elected: this.view.elected, why: 'nothing heard from the ZooKeeper server (a partition that drops packets?); dropping the connection to reach another server of the ensemble' });
  private probeTimer?: NodeJS.Timeout;
  private reopening = false;

  constructor(private readonly o: ElectionOptions) {
    super();
    const r = o.registry;
    if (r)
      this.metrics = {
        elected: new prom.Gauge({ name: 'sextant_master_elected', help: '1 while this master is the elected leader', registers: [r] }),
        changes: new prom.Counter({ name: 'sextant_master_leader_changes_total', help: 'Leader changes this master has seen (first leader included)', registers: [r] }),
        session: new prom.Gauge({ name: 'sextant_master_zk_session_connected', help: '1 while the ZooKeeper session is connected', registers: [r] }),
        expirations: new prom.Counter({ name: 'sextant_master_zk_session_expirations_total', help: 'ZooKeeper sessions of this master that expired', registers: [r] }),
        masters: new prom.Gauge({ name: 'sextant_master_election_masters', help: 'Masters in the ZooKeeper election (contenders whose MasterInfo could be read) as this master sees them', registers: [r] }),
      };
  }

  get current(): ElectionView {
    return this.view;
  }
  /** Every contender, in election order (the leader first); empty while this master is out of the election. */
  masters(): ElectedMaster[] {
    return this.contenders;
  }
  /** Full path of this master's election znode, while it has one. */
  get znode(): string | undefined {
    return this.mine;
  }

  /** Contend: create this master's znode (the session must be connected) and watch the others. */
  async start(): Promise<void> {
    this.stopped = false;
    this.o.session.on('state', this.onState);
    this.o.session.on('silent', this.onSilent);
    this.metrics?.session.set(this.o.session.state === 'connected' ? 1 : 0);
    await this.contend();
    this.probe();
  }

  /**
   * The client library notices a dead connection only when the socket fails; a silent partition
   * would leave it "connected" after ZooKeeper expired the session. So every sixth of the session
   * timeout this master asks for its own znode (any answered request counts too); without an
   * answer for two thirds of the timeout, guard() refuses writes, before ZooKeeper can expire the
   * session and elect another master. Several probes fit in that window, so one slow answer on a
   * busy machine does not cost the leader its writes.
   */
  private probe(): void {
    if (this.stopped) return;
    const every = Math.max(50, Math.floor(this.o.session.sessionTimeoutMs / 6));
    this.probeTimer = setTimeout(() => {
      const mine = this.mine;
      if (mine && this.o.session.state === 'connected')
        this.o.session.exists(mine).then((ok) => {
          if (!ok && this.mine === mine) void this.refresh();
        }, () => undefined);
      this.probe();
    }, every);
    this.probeTimer.unref?.();
  }

  private leaseLive(): boolean {
    return Date.now() - this.o.session.lastHeard < (this.o.session.sessionTimeoutMs * 2) / 3;
  }

  /** Resign: delete the znode (the next master leads at once) and stop watching. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.probeTimer);
    this.gen++;
    this.o.session.off('state', this.onState);
    this.o.session.off('silent', this.onSilent);
    const mine = this.mine;
    this.mine = undefined;
    this.publish({ elected: false }, []);
    this.infos.clear();
    if (mine && this.o.session.state === 'connected') await this.o.session.remove(mine).catch(() => undefined);
  }

  /** The store's fence: this master's znode, or NotLeaderError. */
  guard(): string {
    const s = this.o.session.state;
    if (!this.view.elected || !this.mine) throw new NotLeaderError(`not the leader${this.view.leader ? ` (the leader is ${this.view.leader.pid})` : ' (no leader elected)'}; write refused`);
    if (s !== 'connected') throw new NotLeaderError(`ZooKeeper quorum unavailable: session ${s} (no server of a quorum answers); this master may have lost leadership; write refused, reads are served from its state`);
    if (!this.leaseLive()) throw new LeaseUnverifiedError(`ZooKeeper quorum unavailable: ZooKeeper has not answered for ${Date.now() - this.o.session.lastHeard} ms: this master may have lost leadership; write refused`);
    return this.mine;
  }

  /**
   * Ask ZooKeeper for this master's znode: an answer within two thirds of the session timeout
   * renews the lease guard() checks (a busy event loop sent no probe meanwhile); a znode gone
   * means leadership is lost. Never waits longer than that window.
   */
  async renew(): Promise<void> {
    const mine = this.mine;
    if (!mine || this.o.session.state !== 'connected') return;
    const window = (this.o.session.sessionTimeoutMs * 2) / 3;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      this.o.session.exists(mine).catch(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), window))),
    ]);
    clearTimeout(timer);
    if (!ok && this.mine === mine) await this.refresh();
  }

  private async contend(): Promise<void> {
    const { session, path, info } = this.o;
    // world-READ: Mesos-DNS, agents and the reference mesos-dns find the leader without a credential.
    await session.mkdirp(path, session.worldReadAcl);
    this.mine = await session.create(`${path === '/' ? '' : path}/${PREFIX}`, Buffer.from(JSON.stringify(info)), CreateMode.EPHEMERAL_SEQUENTIAL, session.worldReadAcl);
    this.o.log.info('election_contending', { znode: this.mine, pid: info.pid });
    await this.refresh();
  }

  private sessionState(s: SessionState): void {
    this.metrics?.session.set(s === 'connected' ? 1 : 0);
    if (this.stopped) return;
    if (s === 'connected') void this.refresh();
    if (s === 'disconnected') this.o.log.warn('zk_disconnected', { why: 'ZooKeeper connection lost; writes refused until it is back', elected: this.view.elected });
    if (s === 'expired') {
      this.metrics?.expirations.inc();
      this.o.log.error('zk_session_expired', { why: 'ZooKeeper session expired: this master\'s election znode is gone', was_leader: this.view.elected });
      this.mine = undefined;
      this.publish({ elected: false }, []);
      if (this.o.recontend?.()) void this.reopen();
    }
  }

  /** A new session, then contend again; retried (backing off up to 5 s) until ZooKeeper answers or this stops. */
  private async reopen(): Promise<void> {
    if (this.reopening) return;
    this.reopening = true;
    try {
      for (let attempt = 0; !this.stopped && !this.mine; attempt++) {
        try {
          await this.o.session.connect();
          if (this.stopped) return;
          await this.contend();
          this.o.log.info('election_recontending', { znode: this.mine, why: 'the previous ZooKeeper session expired' });
          return;
        } catch (e) {
          this.o.log.warn('zk_reopen_failed', { err: String(e), attempt, why: 'retrying' });
          await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))));
        }
      }
    } finally {
      this.reopening = false;
    }
  }

  /** List the contenders (arming the children watch), read the new ones' MasterInfo, publish who leads and who contends. */
  private async refresh(): Promise<void> {
    const gen = ++this.gen;
    const { session, path } = this.o;
    try {
      const children = await session.children(path, () => void (!this.stopped && this.refresh()));
      const order = children.filter((c) => c.startsWith(PREFIX) && /^\d+$/.test(c.slice(PREFIX.length))).sort((a, b) => seqOf(a) - seqOf(b));
      const mineName = this.mine?.slice(this.mine.lastIndexOf('/') + 1);
      for (const name of this.infos.keys()) if (!order.includes(name)) this.infos.delete(name);
      const reads = await Promise.all(order.map((c) => (c === mineName ? this.o.info : this.read(c))));
      if (gen !== this.gen || this.stopped) return;
      // The lowest sequence whose MasterInfo could be read leads; a znode gone since listed is skipped (the watch fires again).
      const live = reads.filter((r): r is MasterInfo => !!r && r !== 'gone');
      const leader = live[0];
      const elected = !!this.mine && leader === this.o.info && order.length > 0;
      if (this.mine && !children.includes(mineName!)) {
        this.o.log.error('election_znode_gone', { znode: this.mine, why: 'this master\'s election znode disappeared' });
        this.mine = undefined;
      }
      const masters = live.map((i) => ({ id: i.id, ip: i.address.ip, port: i.address.port, leader: i === leader }));
      this.publish({ elected: elected && !!this.mine, ...(leader ? { leader } : {}) }, masters);
    } catch (e) {
      if (gen === this.gen && !this.stopped) this.o.log.warn('election_refresh_failed', { err: String(e), why: 'retried when the session reconnects' });
    }
  }

  /** One contender's MasterInfo, read once per znode name (unparsable or not readable: null, logged once; a connection error is retried at the next refresh). */
  private read(name: string): Promise<Read> {
    let p = this.infos.get(name);
    if (p) return p;
    const full = `${this.o.path === '/' ? '' : this.o.path}/${name}`;
    p = this.o.session.getData(full).then(
      (r): Read => {
        const info = parseMasterInfo(r.data);
        if (typeof info !== 'string') return info;
        this.o.log.warn('election_znode_malformed', { znode: full, why: `not MasterInfo JSON (${info}); this contender is left out` });
        return null;
      },
      (e: unknown): Read => {
        if (zkCode(e) === ZK.NO_AUTH) {
          this.o.log.warn('election_znode_unreadable', { znode: full, why: 'its ACL does not let this master read it (not a master\'s: they are world-readable); this contender is left out' });
          return null;
        }
        if (this.infos.get(name) === p) this.infos.delete(name);
        if (zkCode(e) === ZK.NO_NODE) return 'gone';
        throw e; // the connection: the refresh is retried when the session reconnects
      },
    );
    this.infos.set(name, p);
    return p;
  }

  private publish(v: ElectionView, masters: ElectedMaster[] = this.contenders): void {
    const key = (ms: ElectedMaster[]) => JSON.stringify(ms.map((m) => [m.id, m.ip, m.port, m.leader]));
    if (key(masters) !== key(this.contenders)) {
      this.contenders = masters;
      this.metrics?.masters.set(masters.length);
      this.emit('masters', masters);
    }
    const before = this.view;
    if (before.elected === v.elected && before.leader?.id === v.leader?.id && before.leader?.pid === v.leader?.pid) return;
    this.view = v;
    this.metrics?.elected.set(v.elected ? 1 : 0);
    if (v.leader && v.leader.id !== before.leader?.id) {
      this.metrics?.changes.inc();
      this.o.log.info('leader_changed', { from: before.leader?.pid ?? null, to: v.leader.pid, elected: v.elected });
    }
    if (before.elected && !v.elected) this.o.log.warn('leadership_lost', { why: 'no longer the lowest live election znode' });
    this.emit('change', v);
  }
}

/** The election as the MasterHandle shows it (contracts' MasterElection). */
export function electionView(e: ZkElection): MasterElection {
  return {
    masters: () => e.masters(),
    onChange(fn) {
      const on = () => fn();
      e.on('masters', on);
      return () => void e.off('masters', on);
    },
  };
}
