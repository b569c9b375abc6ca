/**
 * The DNS listener (UDP and TCP) in front of the current Answers. Order of handlers: parse ->
 * in-domain answers -> forwarder (externalon) -> REFUSED. Nothing a client sends can throw out of
 * a handler: malformed packets get FORMERR (or are dropped when not even a query header), other
 * failures SERVFAIL. TCP connections (dns/wire/tcp-conn.ts): a bad length prefix is answered FORMERR
 * where it has an ID and closes that connection only; idle or half-closed ones are closed.
 */
import dgram from 'node:dgram';
import { BatchUdpSocket, nativeUdp } from '../../common/udp-batch.js';
import { lookup as dnsLookup } from 'node:dns';
import net from 'node:net';
import { MalformedPacketError, Rcode, TCP_LIMIT, UDP_LIMIT, errorReply, newQuery, parseQuery, serveTcpConnection, truncateMessage, type Query } from '../wire/index.js';
import type { Logger } from '../../common/log.js';
import type { Answers } from './answers.js';
import type { Forwarder } from './forward.js';
import type { DnsMetrics } from './metrics.js';

export interface DnsServerOptions {
  host: string;
  port: number;
  domain: string;
  externalOn: boolean;
  setTruncateBit: boolean;
  answers: () => Answers | undefined;
  forwarder?: Forwarder;
  metrics: DnsMetrics;
  log: Logger;
  tcpIdleMs?: number;
}

type Send = (msg: Buffer) => void;

export class DnsServer {
  private udp?: dgram.Socket;
  /** Used instead of `udp` when the native batching module is built (common/udp-batch.ts). */
  private batch?: BatchUdpSocket;
  private tcp?: net.Server;
  private readonly conns = new Set<net.Socket>();
  private readonly q: Query = newQuery();
  private readonly dotDomain: string;
  private boundPort = 0;

  constructor(private readonly o: DnsServerOptions) {
    this.dotDomain = '.' + o.domain;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    // Hostnames (resolved by dgram's lookup) stay on dgram; IP literals get the batch socket.
    if (nativeUdp() && net.isIP(this.o.host)) this.startBatch();
    else await this.startDgram();
    const tcp = net.createServer({ allowHalfOpen: true }, (s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.boundPort, this.o.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    }).catch(async (e: Error) => {
      await this.stop();
      throw new Error(`cannot listen for DNS on tcp ${this.o.host}:${this.boundPort}: ${e.message}`);
    });
    tcp.on('error', (err) => this.o.log.error('dns_tcp_error', { err }));
    this.tcp = tcp;
  }

  private startBatch(): void {
    try {
      this.batch = new BatchUdpSocket({
        ip: this.o.host,
        port: this.o.port,
        handler: (msg, reply) => this.onUdp(msg, reply),
        onHandlerError: (err) => this.o.log.error('dns_handler_failed', { err }),
      });
    } catch (e) {
      throw new Error(`cannot listen for DNS on udp ${this.o.host}:${this.o.port}: ${(e as Error).message}`);
    }
    this.boundPort = this.batch.port;
  }

  private async startDgram(): Promise<void> {
    const family = net.isIPv6(this.o.host) ? 'udp6' : 'udp4';
    // Replies go to rinfo.address, always an IP literal: resolve it synchronously so the reply is
    // handed to the kernel before the handler returns (dns.lookup defers every send by a tick).
    const lookup = (addr: string, fam: number, cb: (err: Error | null, addr: string, fam: number) => void): void => {
      if (this.boundPort) cb(null, addr, fam);
      else dnsLookup(addr, fam, cb);
    };
    const udp = dgram.createSocket({ type: family, reuseAddr: false, lookup: lookup as unknown as dgram.SocketOptions['lookup'] });
    udp.on('message', (msg, rinfo) => this.onDgram(udp, msg, rinfo));
    udp.on('error', (err) => this.o.log.error('dns_udp_error', { err }));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.o.port, this.o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    }).catch((e: Error) => {
      udp.close();
      throw new Error(`cannot listen for DNS on udp ${this.o.host}:${this.o.port}: ${e.message}`);
    });
    this.udp = udp;
    this.boundPort = udp.address().port;
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    this.batch?.close();
    this.batch = undefined;
    const u = this.udp;
    this.udp = undefined;
    if (u) await new Promise<void>((r) => u.close(() => r()));
    const t = this.tcp;
    this.tcp = undefined;
    if (t) await new Promise<void>((r) => t.close(() => r()));
  }

  private onConnection(sock: net.Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    serveTcpConnection(sock, {
      maxFrame: TCP_LIMIT,
      idleMs: this.o.tcpIdleMs ?? 10_000,
      handle: (frame, reply) => this.handle(frame, false, reply, () => reply(undefined)),
      onBadFrame: (why, len) => {
        this.o.metrics.malformed.inc({ transport: 'tcp' });
        this.o.log.debug('dns_tcp_frame_refused', { why, len, remote: sock.remoteAddress });
      },
    });
  }

  /**
   * The common case (an in-domain query with a cached reply): the cached buffer patched in place,
   * without allocating, and counted; undefined for everything else (handle() then). The buffer is
   * lent by `this.o.answers()`.
   */
  private fastUdp(buf: Buffer): Buffer | undefined {
    try {
      const a = this.fast(buf);
      const out = a?.shared(buf, this.q);
      if (!a || !out) return undefined;
      this.o.metrics.query(this.q.qtype, a.lastRcode);
      return out;
    } catch {
      return undefined; // handle() answers again and reports (SERVFAIL)
    }
  }

  /** A datagram from the batch socket, which copies the answer at once: the shared buffer may be reused. */
  private onUdp(buf: Buffer, reply: (m: Buffer) => void): void {
    const out = this.fastUdp(buf);
    if (out) reply(out);
    else this.handle(buf, true, reply);
  }

  /** A datagram on the dgram path (no native module). */
  private onDgram(udp: dgram.Socket, buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const out = this.fastUdp(buf);
    if (out) this.sendUdp(udp, out, rinfo, this.o.answers());
    else this.handle(buf, true, (m) => this.sendUdp(udp, m, rinfo));
  }

  private sendUdp(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo, lentBy?: Answers): void {
    try {
      udp.send(msg, rinfo.port, rinfo.address);
    } catch (err) {
      this.o.log.error('dns_udp_send_failed', { err });
    }
    // Not sent at once (kernel buffer full): the queued send still holds this buffer.
    if (lentBy && udp.getSendQueueCount() > 0) lentBy.detachLast();
  }

  /** The Answers for a well-formed in-domain standard query (parsed into this.q), else undefined. */
  private fast(buf: Buffer): Answers | undefined {
    try {
      parseQuery(buf, this.q);
    } catch {
      return undefined;
    }
    const name = this.q.qname;
    if (this.q.opcode !== 0 || !(name === this.o.domain || name.endsWith(this.dotDomain))) return undefined;
    return this.o.answers();
  }

  /** One query from either transport. Never throws. `drop` is told when there is no answer (a TCP connection counts its queries). */
  handle(buf: Buffer, udp: boolean, send: Send, drop?: () => void): void {
    const q = this.q;
    try {
      parseQuery(buf, q);
    } catch (e) {
      this.o.metrics.malformed.inc({ transport: udp ? 'udp' : 'tcp' });
      if (e instanceof MalformedPacketError && e.id >= 0 && buf.length >= 12 && (buf[2]! & 0x80) === 0) {
        send(errorReply(buf, undefined, Rcode.FORMERR));
      } else drop?.();
      return;
    }
    try {
      if (q.opcode !== 0) return this.reply(send, errorReply(buf, q, Rcode.NOTIMP), q.qtype, Rcode.NOTIMP);
      const name = q.qname;
      if (name === this.o.domain || name.endsWith(this.dotDomain)) {
        const a = this.o.answers();
        if (!a) return this.reply(send, errorReply(buf, q, Rcode.SERVFAIL), q.qtype, Rcode.SERVFAIL);
        const r = a.respond(buf, q, udp);
        return this.reply(send, r.msg, q.qtype, r.rcode);
      }
      if (!this.o.externalOn || !this.o.forwarder) return this.reply(send, errorReply(buf, q, Rcode.REFUSED), q.qtype, Rcode.REFUSED);
      this.forward(Buffer.from(buf), q.qname, q.qtype, q.edns ? Math.max(UDP_LIMIT, q.ednsSize) : UDP_LIMIT, udp, send, drop);
    } catch (e) {
      this.o.log.error('dns_handler_failed', { err: e, qname: q.qname, qtype: q.qtype });
      this.reply(send, errorReply(buf, q, Rcode.SERVFAIL), q.qtype, Rcode.SERVFAIL);
    }
  }

  private reply(send: Send, msg: Buffer, qtype: number, rcode: number): void {
    this.o.metrics.query(qtype, rcode);
    send(msg);
  }

  private forward(query: Buffer, qname: string, qtype: number, limit: number, udp: boolean, send: Send, drop?: () => void): void {
    this.o.forwarder!.forward(query, qname, !udp).then(
      (resp) => {
        if (!resp) {
          this.o.metrics.forwarded.inc({ result: 'failed' });
          return this.reply(send, errorReply(query, safeParse(query), Rcode.SERVFAIL), qtype, Rcode.SERVFAIL);
        }
        this.o.metrics.forwarded.inc({ result: 'ok' });
        let out = resp;
        if (udp && resp.length > limit) {
          try {
            out = truncateMessage(resp, limit, this.o.setTruncateBit);
          } catch {
            out = errorReply(query, safeParse(query), Rcode.SERVFAIL);
          }
        }
        this.reply(send, out, qtype, out.length >= 4 ? out[3]! & 0xf : Rcode.SERVFAIL);
      },
      (err) => {
        this.o.log.error('dns_forward_failed', { err, qname });
        drop?.();
      },
    );
  }
}

function safeParse(buf: Buffer): Query | undefined {
  try {
    return parseQuery(buf);
  } catch {
    return undefined;
  }
}
