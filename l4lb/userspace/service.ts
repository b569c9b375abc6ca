/**
 * One proxied service: a TCP server or a UDP socket on the listen address, relaying to the backend
 * the balancer picks. Weight-0 backends get no new connections; open ones run to their end.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import type { Logger } from '../../common/log.js';
import type { Service } from '../driver.js';
import { Balancer, backendId, type Balance } from './balancer.js';

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
  private readonly sockets = new Set<net.Socket | dgram.Socket>();
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

  private onConnection(client: net.Socket, skip = new Set<string>()): void {
    const b = this.balancer.pick(`${client.remoteAddress}`, skip);
    if (!b) {
      client.destroy();
      return;
    }
    this.sockets.add(client);
    const up = net.connect({ host: b.ip, port: b.port, timeout: this.opts.connectTimeoutMs, noDelay: true });
    this.sockets.add(up);
    let connected = false;
    this.balancer.opened(b);
    const done = () => {
      this.sockets.delete(up);
      this.sockets.delete(client);
    };
    up.once('connect', () => {
      connected = true;
      up.setTimeout(0);
      client.pipe(up);
      up.pipe(client);
    });
    up.once('timeout', () => up.destroy(new Error('connect timeout')));
    up.once('close', () => {
      this.balancer.closed(b);
      done();
      if (connected) client.destroy();
    });
    up.on('error', (e) => {
      if (connected) return;
      this.opts.onUnreachable(backendId(b));
      this.opts.log.warn('userspace_backend_unreachable', { service: this.service.key, backend: backendId(b), err: e });
      skip.add(backendId(b));
      client.removeAllListeners('close');
      this.onConnection(client, skip); // try the next backend once per backend
    });
    client.on('error', () => up.destroy());
    client.once('close', () => {
      done();
      up.destroy();
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
      const b = this.balancer.pick(rinfo.address);
      if (!b) return;
      const up = dgram.createSocket(b.ip.includes(':') ? 'udp6' : 'udp4');
      this.balancer.opened(b);
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
        this.balancer.closed(b);
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
    for (const s of this.sockets) {
      if (s instanceof net.Socket) s.destroy();
      else s.close();
    }
  }

  /** Tests: break the listener behind the driver's back. */
  breakListener(): void {
    this.tcp?.close();
    this.udp?.close();
    this.listening = false;
  }
}
