/**
 * Forwarding of names outside the Mesos domain to `ZoneResolvers` (longest matching zone) or
 * `Resolvers`, over the client's transport, trying each resolver in order with `Timeout` seconds
 * each (mesos-dns exchanger.Forwarder). Upstream answers pass through; only the ID is restored.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { readTcpFrames } from '../wire/index.js';
import { splitHostPort } from './state.js';

export interface Upstream {
  host: string;
  port: number;
}

export function parseUpstream(s: string): Upstream {
  const hp = splitHostPort(s);
  return hp ? { host: hp.host, port: Number(hp.port) } : { host: s, port: 53 };
}

interface Pending {
  resolve: (msg: Buffer | undefined) => void;
  timer: NodeJS.Timeout;
  host: string;
  port: number;
}

export class Forwarder {
  private sockets = new Map<string, dgram.Socket>();
  private pending = new Map<number, Pending>();
  private readonly zones: [string, Upstream[]][];
  private readonly defaults: Upstream[];

  constructor(resolvers: string[], zoneResolvers: Record<string, string[]>, private readonly timeoutMs: number) {
    this.defaults = resolvers.map(parseUpstream);
    this.zones = Object.entries(zoneResolvers)
      .map(([z, rs]) => [z.toLowerCase().replace(/\.$/, ''), rs.map(parseUpstream)] as [string, Upstream[]])
      .sort((a, b) => b[0].length - a[0].length);
  }

  /** Upstreams for a name: the longest matching zone's, else the default ones. */
  upstreamsFor(qname: string): Upstream[] {
    for (const [z, ups] of this.zones) if (qname === z || qname.endsWith('.' + z)) return ups;
    return this.defaults;
  }

  /** Forward a query; undefined when every upstream failed or timed out. */
  async forward(query: Buffer, qname: string, tcp: boolean): Promise<Buffer | undefined> {
    for (const up of this.upstreamsFor(qname)) {
      const r = tcp ? await this.tcp(query, up) : await this.udp(query, up);
      if (r) return r;
    }
    return undefined;
  }

  private socket(family: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = dgram.createSocket(family);
    s.on('message', (msg, rinfo) => this.onReply(msg, rinfo));
    s.on('error', () => undefined);
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  private onReply(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (!p || rinfo.port !== p.port || rinfo.address !== p.host) return;
    this.pending.delete(msg.readUInt16BE(0));
    clearTimeout(p.timer);
    p.resolve(msg);
  }

  private udp(query: Buffer, up: Upstream): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let id = randomInt(0, 65536);
      for (let i = 0; this.pending.has(id) && i < 100; i++) id = randomInt(0, 65536);
      if (this.pending.has(id)) return resolve(undefined);
      const origId = query.readUInt16BE(0);
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, {
        host: up.host,
        port: up.port,
        timer,
        resolve: (msg) => {
          if (msg) msg.writeUInt16BE(origId, 0);
          resolve(msg);
        },
      });
      this.socket(net.isIPv6(up.host) ? 'udp6' : 'udp4').send(out, up.port, up.host, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(undefined);
      });
    });
  }

  private tcp(query: Buffer, up: Upstream): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = net.connect({ host: up.host, port: up.port });
      let done = false;
      const finish = (msg: Buffer | undefined) => {
        if (done) return;
        done = true;
        sock.destroy();
        resolve(msg);
      };
      sock.setTimeout(this.timeoutMs, () => finish(undefined));
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      const reader = readTcpFrames((m) => finish(Buffer.from(m)));
      sock.on('data', (d) => {
        try {
          reader.push(d);
        } catch {
          finish(undefined);
        }
      });
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
    });
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
