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

const noop = () => undefined;

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
}

export class ServiceProxy {
  service: Service;
  readonly balancer: Balancer;
  private tcp?: net.Server;
  private udp?: dgram.Socket;
  /** Accepted TCP clients (destroyed on stop) and UDP upstream sockets. */
  private readonly clients = new Set<net.Socket>();
  private readonly sockets = new Set<dgram.Socket>();
  /** Upstream connects in flight, destroyed when past the connect timeout (no timer per connection). */
  private readonly connects: ConnectSweep<net.Socket>;
  private readonly sessions = new Map<string, { sock: dgram.Socket; timer: NodeJS.Timeout }>();
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

  async start(): Promise<void> {
    if (this.listening) return;
    if (this.service.protocol === 'tcp') await this.startTcp();
    else await this.startUdp();
    this.listening = true;
  }

  private startTcp(): Promise<void> {
    // No Nagle delay on either leg: a proxy must not hold back small writes (request/response traffic).
    const server = net.createServer({ noDelay: true }, (c) => this.onConnection(c));
    this.tcp = server;
    server.on('close', () => (this.listening = false));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.listen.host, port: this.listen.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (e) => this.opts.log.warn('userspace_listener_error', { service: this.service.key, err: e }));
        resolve();
      });
    });
  }

  /**
   * Relay one accepted client to a backend; on a refused or timed-out connect, try the next one.
   * Lean relay ('data' + write + pause/drain, no pipe()): fewer listeners and allocations per
   * connection than pipe(), same work per byte. The client is read only once the backend accepted,
   * so a failed connect loses nothing and the next backend gets the client's first bytes.
   */
  private onConnection(client: net.Socket, tried?: Set<string>): void {
    const bal = this.balancer;
    const slot = bal.pick(bal.wantsClient ? (client.remoteAddress ?? '') : '', tried);
    if (!slot) {
      this.clients.delete(client);
      client.destroy();
      return;
    }
    if (!tried) {
      this.clients.add(client);
      client.on('error', noop);
    }
    const b = slot.backend;
    const up = net.connect({ host: b.ip, port: b.port, noDelay: true });
    this.connects.add(up);
    bal.opened(slot);
    let connected = false;
    const onClientClose = () => {
      this.clients.delete(client);
      up.destroy();
    };
    client.on('close', onClientClose);
    up.on('connect', () => {
      connected = true;
      this.connects.delete(up);
      client.on('data', (d: Buffer) => {
        if (!up.write(d)) client.pause();
      });
      client.on('end', () => up.end());
      client.on('drain', () => up.resume());
      up.on('drain', () => client.resume());
    });
    up.on('data', (d: Buffer) => {
      if (!client.write(d)) up.pause();
    });
    up.on('end', () => client.end());
    up.on('error', (e) => {
      if (connected || client.destroyed) return;
      this.connects.delete(up);
      this.opts.onUnreachable(slot.id);
      this.opts.log.warn('userspace_backend_unreachable', { service: this.service.key, backend: slot.id, err: e });
      client.off('close', onClientClose);
      const next = tried ?? new Set<string>();
      next.add(slot.id);
      this.onConnection(client, next); // the next backend, once per backend
    });
    up.on('close', () => {
      this.connects.delete(up);
      bal.closed(slot);
      if (connected) client.destroy();
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
      const session = { sock: up, timer: setTimeout(() => up.close(), this.opts.udpIdleMs) };
      s = session;
      this.sessions.set(id, session);
      this.sockets.add(up);
      up.on('message', (reply) => {
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
    try {
      s.sock.send(msg);
    } catch {
      /* not connected yet: the first datagram is still in flight */
    }
  }

  /** Stop listening; `drain` leaves open connections alone. */
  async stop(drain = false): Promise<void> {
    this.listening = false;
    await new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve()));
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
    this.udp?.close();
    this.listening = false;
  }
}
