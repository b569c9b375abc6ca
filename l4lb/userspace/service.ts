/**
 * One proxied service: a TCP server or a UDP socket on the listen address, relaying to the backend
 * the balancer picks. Weight-0 backends get no new connections; open ones run to their end.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import type { Logger } from '../../common/log.js';
import type { Service } from '../driver.js';
import { Balancer, type Balance } from './balancer.js';
import { ConnectSweep } from './sweep.js';
import { adopt, Leg, relayData } from './relay.js';
import { nativeRelay } from './native-relay.js';
import { NativeTcpService } from './native-tcp.js';
import { isLocalError, type SocketOp } from './local-errors.js';
import { performance } from 'node:perf_hooks';
import type { Slot } from './balancer.js';
import { vipName, type BackendCounters, type VipCounters } from '../vipmetrics/counters.js';

const noop = () => undefined;

/** One accepted client; `legs` (client→upstream, upstream→client) unless it is relayed with 'data' events. */
interface Conn {
  client: net.Socket;
  legs?: [Leg, Leg];
  clientClosed: boolean;
  upOpen: boolean;
}

function release(c: Conn): void {
  if (!c.clientClosed || c.upOpen || !c.legs) return;
  for (const leg of c.legs) leg.release();
}

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServiceProxyOptions {
  balance: Balance;
  log: Logger;
  connectTimeoutMs: number;
  udpIdleMs: number;
  onUnreachable: (backend: string) => void;
  onSocketError?: (op: SocketOp, errno: string) => void;
  /** VIP metrics (connections, failures, bytes, connect latency); absent when metrics are off. */
  counters?: VipCounters;
}

export class ServiceProxy {
  service: Service;
  readonly balancer: Balancer;
  private tcp?: net.Server;
  /** TCP through the native relay (native-tcp.ts), where it is built and the listen address is an IP. */
  private native?: NativeTcpService;
  private udp?: dgram.Socket;
  /** Accepted TCP clients (destroyed on stop) and UDP upstream sockets. */
  private readonly clients = new Set<net.Socket>();
  private readonly sockets = new Set<dgram.Socket>();
  /** Upstream connects in flight, destroyed when past the connect timeout (no timer per connection). */
  private readonly connects: ConnectSweep<net.Socket>;
  private readonly sessions = new Map<string, { sock: dgram.Socket; timer: NodeJS.Timeout; stats?: BackendCounters }>();
  listening = false;

  constructor(
    service: Service,
    readonly listen: ListenAddress,
    private readonly opts: ServiceProxyOptions,
  ) {
    this.service = service;
    this.balancer = new Balancer(opts.balance);
    this.balancer.set(service.backends);
    this.connects = new ConnectSweep(opts.connectTimeoutMs, (up) => up.destroy(new Error('connect timeout')));
  }

  update(service: Service): void {
    this.service = service;
    this.balancer.set(service.backends);
  }

  /** A backend's VIP metrics, looked up once per balancer slot. */
  private readonly stats = (slot: Slot): BackendCounters => (slot.stats ??= this.opts.counters!.backend(vipName(this.service), slot.id));

  async start(): Promise<void> {
    if (this.listening) return;
    if (this.service.protocol === 'tcp') await this.startTcp();
    else await this.startUdp();
    this.listening = true;
  }

  private startTcp(): Promise<void> {
    const relay = nativeRelay();
    if (relay && net.isIP(this.listen.host)) {
      this.native ??= new NativeTcpService(relay, this.listen, {
        balancer: this.balancer,
        log: this.opts.log,
        connectTimeoutMs: this.opts.connectTimeoutMs,
        onUnreachable: this.opts.onUnreachable,
        onSocketError: this.opts.onSocketError,
        service: () => this.service.key,
        ...(this.opts.counters ? { stats: this.stats } : {}),
      });
      this.native.start();
      return Promise.resolve();
    }
    return this.startNetServer();
  }

  private startNetServer(): Promise<void> {
    // No Nagle delay on either leg: a proxy must not hold back small writes (request/response traffic).
    // Half-close is relayed (a client's FIN ends only the write towards the backend, whose answer
    // still comes back). pauseOnConnect: nothing is read before the relay takes the socket (see relay.ts adopt).
    const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (c) => this.onConnection(c));
    this.tcp = server;
    server.on('close', () => (this.listening = false));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.listen.host, port: this.listen.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (e: NodeJS.ErrnoException) => {
          this.opts.log.warn('userspace_listener_error', { service: this.service.key, err: e });
          if (e.code) this.opts.onSocketError?.('accept', e.code);
        });
        resolve();
      });
    });
  }

  /**
   * Take one accepted client: its bytes are relayed through `Leg` buffers (see relay.ts), or with
   * 'data' events where the accepted socket's handle cannot be taken over.
   */
  private onConnection(accepted: net.Socket): void {
    const toUp = new Leg();
    const adopted = adopt(accepted, toUp.onread);
    if (!adopted) toUp.release(); // 'data' relay: its buffer goes back to the free list now
    const client = adopted ?? accepted;
    this.clients.add(client);
    client.on('error', noop);
    // The buffers go back once the client and the upstream it was relayed to are both closed.
    const conn: Conn = { client, legs: adopted ? [toUp, new Leg()] : undefined, clientClosed: false, upOpen: false };
    client.on('close', () => {
      conn.clientClosed = true;
      this.clients.delete(client);
      release(conn);
    });
    this.dial(conn, new Set());
  }

  /**
   * Connect the client to a backend; on a refused or timed-out connect, try the next one (once per
   * backend). The client is read only once the backend accepted, so a failed connect loses nothing
   * and the next backend gets the client's first bytes.
   */
  private dial(conn: Conn, tried: Set<string>): void {
    const { client, legs } = conn;
    const bal = this.balancer;
    const slot = bal.pick(bal.wantsClient ? (client.remoteAddress ?? '') : '', tried);
    if (!slot) {
      client.destroy();
      return;
    }
    const b = slot.backend;
    const up = net.connect({ host: b.ip, port: b.port, noDelay: true, allowHalfOpen: true, ...(legs ? { onread: legs[1].onread } : {}) });
    this.connects.add(up);
    bal.opened(slot);
    const stats = this.opts.counters && this.stats(slot);
    const t0 = stats ? performance.now() : 0;
    let connected = false;
    const onClientClose = () => up.destroy();
    client.on('close', onClientClose);
    up.on('connect', () => {
      connected = true;
      conn.upOpen = true;
      this.connects.delete(up);
      if (stats) stats.connected((performance.now() - t0) / 1000);
      if (legs) {
        const [toUp, toClient] = legs;
        [toUp.src, toUp.dst, toClient.src, toClient.dst] = [client, up, up, client];
        toUp.stats = toClient.stats = stats || undefined;
      } else {
        relayData(client, up, stats || undefined);
        relayData(up, client, stats || undefined);
      }
      client.on('end', () => up.end());
      up.on('end', () => client.end());
      client.resume();
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (connected || client.destroyed) return;
      this.connects.delete(up);
      if (isLocalError(e.code)) {
        // This process is out of sockets: no backend is to blame, and the next would fail alike.
        this.opts.onSocketError?.('connect', e.code!);
        this.opts.log.warn('userspace_no_socket', { service: this.service.key, err: e });
        client.destroy();
        return;
      }
      stats?.failed();
      this.opts.onUnreachable(slot.id);
      this.opts.log.warn('userspace_backend_unreachable', { service: this.service.key, backend: slot.id, err: e });
      client.off('close', onClientClose);
      tried.add(slot.id);
      this.dial(conn, tried);
    });
    up.on('close', () => {
      this.connects.delete(up);
      bal.closed(slot);
      if (!connected) return;
      conn.upOpen = false;
      client.destroy();
      release(conn);
    });
  }

  private startUdp(): Promise<void> {
    const sock = dgram.createSocket({ type: this.listen.host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    this.udp = sock;
    sock.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    sock.on('close', () => (this.listening = false));
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.listen.port, this.listen.host, () => {
        sock.off('error', reject);
        sock.on('error', (e) => this.opts.log.warn('userspace_listener_error', { service: this.service.key, err: e }));
        resolve();
      });
    });
  }

  /** One upstream socket per client address, so replies find their way back. */
  private onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const id = `${rinfo.address}|${rinfo.port}`;
    let s = this.sessions.get(id);
    if (!s) {
      const slot = this.balancer.pick(rinfo.address);
      if (!slot) return;
      const b = slot.backend;
      const up = dgram.createSocket(b.ip.includes(':') ? 'udp6' : 'udp4');
      this.balancer.opened(slot);
      const stats = this.opts.counters && this.stats(slot);
      if (stats) {
        stats.connected();
        stats.bytes += msg.length;
      }
      const session = { sock: up, timer: setTimeout(() => up.close(), this.opts.udpIdleMs), stats: stats || undefined };
      s = session;
      this.sessions.set(id, session);
      this.sockets.add(up);
      up.on('message', (reply) => {
        if (stats) stats.bytes += reply.length;
        this.udp?.send(reply, rinfo.port, rinfo.address);
        session.timer.refresh();
      });
      up.on('error', () => up.close());
      up.on('close', () => {
        clearTimeout(session.timer);
        this.sessions.delete(id);
        this.sockets.delete(up);
        this.balancer.closed(slot);
      });
      up.connect(b.port, b.ip);
      up.once('connect', () => up.send(msg));
      return;
    }
    s.timer.refresh();
    if (s.stats) s.stats.bytes += msg.length;
    try {
      s.sock.send(msg);
    } catch {
      /* not connected yet: the first datagram is still in flight */
    }
  }

  /**
   * Stop listening; `drain` leaves open connections alone. The listening socket closes at once;
   * this never waits for open connections (net.Server's close callback would, and a long-lived
   * connection to a removed VIP would then hold up every later apply).
   */
  async stop(drain = false): Promise<void> {
    this.listening = false;
    this.tcp?.close();
    this.native?.stop(drain);
    this.udp?.close();
    this.tcp = this.udp = undefined;
    if (drain) return;
    this.connects.stop();
    for (const c of this.clients) c.destroy();
    for (const s of this.sockets) s.close();
  }

  /** Tests: break the listener behind the driver's back. */
  breakListener(): void {
    this.tcp?.close();
    this.native?.unlisten();
    this.udp?.close();
    this.listening = false;
  }
}
