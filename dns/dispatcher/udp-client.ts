/**
 * Upstream queries over UDP from a pool of sockets on random ports (RFC 5625 sect. 6: random
 * source port per query). A reply is accepted only from the address and port queried, with the
 * query's ID and question; anything else is dropped and counted. Sockets are replaced after a
 * number of uses so the set of source ports keeps moving.
 */
import dgram from 'node:dgram';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { sameQuestion, type Attempt } from './attempt.js';
import type { Endpoint } from './endpoint.js';
import { UpstreamError } from './errors.js';

interface Pending {
  query: Buffer;
  questionEnd: number;
  resolve(b: Buffer): void;
}

class PoolSocket {
  readonly pending = new Map<string, Pending>();
  uses = 0;
  constructor(
    readonly socket: dgram.Socket,
    readonly family: 4 | 6,
  ) {}
}

export type DropReason = 'unexpected_source_or_id' | 'question_mismatch';

export interface UdpClientOptions {
  clock: Clock;
  log: Logger;
  poolSize?: number;
  /** Replace a socket after this many queries (when it is idle). */
  maxUses?: number;
  onDropped?(reason: DropReason): void;
}

export class UdpUpstreamClient {
  private readonly pools: Record<4 | 6, PoolSocket[]> = { 4: [], 6: [] };
  private readonly poolSize: number;
  private readonly maxUses: number;
  private closed = false;

  constructor(private readonly opts: UdpClientOptions) {
    this.poolSize = opts.poolSize ?? 16;
    this.maxUses = opts.maxUses ?? 5000;
  }

  query(raw: Buffer, questionEnd: number, to: Endpoint, timeoutMs: number): Attempt {
    const id = raw.readUInt16BE(0);
    const key = `${id}|${to.port}|${to.host}`;
    const ps = this.pick(to.family, key);
    let timer: unknown;
    let done = false;
    let settle: (err?: Error, b?: Buffer) => void = () => {};
    const promise = new Promise<Buffer>((resolve, reject) => {
      settle = (err, b) => {
        if (done) return;
        done = true;
        ps.pending.delete(key);
        this.opts.clock.clearTimeout(timer);
        this.retire(ps);
        if (err) reject(err);
        else resolve(b!);
      };
      ps.pending.set(key, { query: raw, questionEnd, resolve: (b) => settle(undefined, b) });
      timer = this.opts.clock.setTimeout(() => settle(new UpstreamError(to.label, 'timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
      ps.socket.send(raw, to.port, to.host, (err) => {
        if (err) settle(new UpstreamError(to.label, 'network', err.message));
      });
    });
    return { promise, cancel: () => settle(new UpstreamError(to.label, 'aborted', 'another upstream answered first')) };
  }

  close(): void {
    this.closed = true;
    for (const f of [4, 6] as const) for (const ps of this.pools[f].splice(0)) ps.socket.close();
  }

  /** A random socket of the pool whose pending set has no query with this key. */
  private pick(family: 4 | 6, key: string): PoolSocket {
    const pool = this.pools[family];
    while (pool.length < this.poolSize) pool.push(this.open(family));
    const start = (Math.random() * pool.length) | 0;
    for (let i = 0; i < pool.length; i++) {
      const ps = pool[(start + i) % pool.length]!;
      if (!ps.pending.has(key)) {
        ps.uses++;
        return ps;
      }
    }
    // Same ID to the same upstream from many clients at once: one more socket for it.
    const extra = this.open(family);
    pool.push(extra);
    extra.uses++;
    return extra;
  }

  private open(family: 4 | 6): PoolSocket {
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
    const ps = new PoolSocket(socket, family);
    socket.on('message', (msg, rinfo) => this.onMessage(ps, msg, rinfo));
    socket.on('error', (err) => this.opts.log.warn('upstream_socket_error', { err }));
    socket.bind(0);
    socket.unref();
    return ps;
  }

  private onMessage(ps: PoolSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const p = msg.length >= 12 ? ps.pending.get(`${msg.readUInt16BE(0)}|${rinfo.port}|${rinfo.address}`) : undefined;
    if (!p) return this.opts.onDropped?.('unexpected_source_or_id');
    if (!(msg[2]! & 0x80) || !sameQuestion(p.query, p.questionEnd, msg)) return this.opts.onDropped?.('question_mismatch');
    p.resolve(msg);
  }

  /** Close an idle, worn socket (or an extra one beyond the pool size) so the next one gets a new port. */
  private retire(ps: PoolSocket): void {
    if (ps.pending.size || this.closed) return;
    const pool = this.pools[ps.family];
    const i = pool.indexOf(ps);
    if (i < 0 || (ps.uses < this.maxUses && i < this.poolSize)) return;
    pool.splice(i, 1);
    ps.socket.close();
  }
}
