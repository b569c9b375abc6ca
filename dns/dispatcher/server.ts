/**
 * UDP and TCP listeners on every bind address. Each message goes to `handle`; TCP connections
 * (dns/wire/tcp-conn.ts) take pipelined queries (answers go back as they are ready, in any order,
 * matched by ID), close after an idle time or a FIN once their answers are sent, and answer a bad
 * length prefix (0, under a header, over the size cap) with FORMERR where it has an ID, then close.
 * UDP goes through the batching native socket (common/udp-batch.ts) when it is built, else dgram.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../../common/log.js';
import { BatchUdpSocket, nativeUdp, type BatchDropReason } from '../../common/udp-batch.js';
import type { Transport } from './forwarder.js';
import { literalLookup } from './udp-client.js';
import { Flag, serveTcpConnection, type BadFrame } from './wire.js';

/** Handles one message; `done` gets the answer once (undefined: drop), now or later. */
export type MessageHandler = (msg: Buffer, transport: Transport, done: (answer: Buffer | undefined) => void) => void;

export interface ServerOptions {
  bindIps: string[];
  udpPort: number;
  tcpPort: number;
  tcpIdleTimeoutMs: number;
  /** Largest TCP query frame accepted; a bigger one closes the connection. */
  maxTcpQuery?: number;
  handle: MessageHandler;
  log: Logger;
  /** UDP datagrams lost in the batching socket (see common/udp-batch.ts). */
  onUdpDrop?(reason: BatchDropReason, count: number): void;
  /** A TCP frame with a bad length prefix (answered FORMERR when it had an ID; the connection closed). */
  onBadTcpFrame?(why: BadFrame): void;
}

export interface BoundAddress {
  transport: Transport;
  host: string;
  port: number;
}

/** A UDP socket a worker process can serve too: a dgram socket (sent over IPC) or a native one (by descriptor). */
export type SharedUdp = dgram.Socket | { ip: string; fd: number };

export class DnsServer {
  private udp: (dgram.Socket | BatchUdpSocket)[] = [];
  private tcp: net.Server[] = [];
  private conns = new Set<net.Socket>();

  constructor(private readonly opts: ServerOptions) {}

  async start(): Promise<void> {
    try {
      for (const ip of this.opts.bindIps) {
        this.udp.push(await this.bindUdp(ip));
        this.tcp.push(await this.listenTcp(ip));
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    await Promise.all(this.udp.splice(0).map((s) => (s instanceof BatchUdpSocket ? s.close() : new Promise<void>((r) => s.close(() => r())))));
    await Promise.all(this.tcp.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  addresses(): BoundAddress[] {
    return [
      ...this.udp.map((s) => ({ transport: 'udp' as const, ...(s instanceof BatchUdpSocket ? { host: s.ip, port: s.port } : { host: s.address().address, port: s.address().port }) })),
      ...this.tcp.map((s) => {
        const a = s.address() as net.AddressInfo;
        return { transport: 'tcp' as const, host: a.address, port: a.port };
      }),
    ];
  }

  /** The bound UDP sockets (a dispatcher with workers hands them to its worker processes). */
  udpSockets(): SharedUdp[] {
    return this.udp.map((s) => (s instanceof BatchUdpSocket ? { ip: s.ip, fd: s.fd } : s));
  }

  /** Serve UDP on sockets bound elsewhere (a worker process: the primary's sockets, shared). No TCP. */
  adoptUdp(sockets: SharedUdp[]): void {
    for (const s of sockets) {
      if (!(s instanceof dgram.Socket)) {
        this.udp.push(this.batchSocket(s.ip, 0, s.fd));
        continue;
      }
      this.serveUdp(s);
      s.on('error', (err) => this.opts.log.warn('udp_socket_error', { ip: s.address().address, err }));
      this.udp.push(s);
    }
  }

  private batchSocket(ip: string, port: number, fd?: number): BatchUdpSocket {
    return new BatchUdpSocket({
      ip,
      port,
      fd,
      handler: (msg, reply) => this.opts.handle(msg, 'udp', reply),
      onHandlerError: (err) => this.dropped(err, 'udp'),
      onDrop: this.opts.onUdpDrop,
    });
  }

  private serveUdp(s: dgram.Socket): void {
    s.on('message', (msg, rinfo) => {
      try {
        this.opts.handle(msg, 'udp', (b) => b && this.sendUdp(s, b, rinfo.port, rinfo.address));
      } catch (err) {
        this.dropped(err, 'udp');
      }
    });
  }

  private async bindUdp(ip: string): Promise<dgram.Socket | BatchUdpSocket> {
    if (nativeUdp()) return this.batchSocket(ip, this.opts.udpPort);
    const s = dgram.createSocket({ type: net.isIPv6(ip) ? 'udp6' : 'udp4', lookup: literalLookup as never });
    this.serveUdp(s);
    return new Promise((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.opts.udpPort, ip, () => {
        s.off('error', reject);
        s.on('error', (err) => this.opts.log.warn('udp_socket_error', { ip, err }));
        resolve(s);
      });
    });
  }

  /** Answers are sent from upstream-reply callbacks: a send on a closed socket must not escape into them. */
  private sendUdp(s: dgram.Socket, b: Buffer, port: number, address: string): void {
    try {
      s.send(b, port, address);
    } catch (err) {
      this.opts.log.debug('udp_send_failed', { address, port, err });
    }
  }

  private listenTcp(ip: string): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true }, (sock) => this.onConnection(sock));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.tcpPort, ip, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.log.warn('tcp_server_error', { ip, err }));
        resolve(server);
      });
    });
  }

  private onConnection(sock: net.Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    serveTcpConnection(sock, {
      maxFrame: this.opts.maxTcpQuery ?? 16384,
      idleMs: this.opts.tcpIdleTimeoutMs,
      formErrFlags: Flag.RA,
      handle: (msg, reply) => this.safeHandle(msg, 'tcp', reply),
      onBadFrame: (why, len) => {
        this.opts.onBadTcpFrame?.(why);
        this.opts.log.debug('tcp_frame_refused', { why, len, max: this.opts.maxTcpQuery ?? 16384, remote: sock.remoteAddress });
      },
    });
  }

  /** The handler must never throw into the socket loop: log and drop instead (the answer counted once). */
  private safeHandle(msg: Buffer, transport: Transport, reply: (b: Buffer | undefined) => void): void {
    let answered = false;
    const once = (b: Buffer | undefined) => {
      if (answered) return;
      answered = true;
      reply(b);
    };
    try {
      this.opts.handle(msg, transport, once);
    } catch (err) {
      once(this.dropped(err, transport));
    }
  }

  private dropped(err: unknown, transport: Transport): undefined {
    this.opts.log.error('query_handler_failed', { transport, err });
    return undefined;
  }
}
