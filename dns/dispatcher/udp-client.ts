/**
 * Upstream queries over UDP from a pool of sockets on random ports (RFC 5625 sect. 6: random
 * source port per query). A reply is accepted only from the address and port queried, with the
 * query's ID and question; anything else is dropped and counted. Sockets are replaced after a
 * number of uses so the set of source ports keeps moving.
 *
 * Hot path: no timer, promise or string key per query. Each socket keeps its in-flight queries by
 * ID (a socket never has two queries with one ID in flight), timeouts go through one DeadlineQueue,
 * and sends skip Node's per-packet address lookup (upstreams are IP literals).
 */
import dgram from 'node:dgram';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { sameQuestion } from './attempt.js';
import { DeadlineQueue, type Deadline } from './deadlines.js';
import type { Endpoint } from './endpoint.js';
import { UpstreamError } from './errors.js';

/** Told once per query: an error, or the upstream's reply (unchanged). An object, not a closure: no allocation per query. */
export interface ReplyHandler {
  onReply(err: UpstreamError | undefined, reply?: Buffer): void;
}

/** Addresses here are always IP literals: answer at once instead of via dns.lookup and a tick. */
export function literalLookup(address: string, family: unknown, cb: (err: null, address: string, family: number) => void): void {
  cb(null, address, family === 6 || family === 'IPv6' ? 6 : 4);
}

class Pending implements Deadline {
  settled = false;
  constructor(
    readonly ps: PoolSocket,
    readonly id: number,
    readonly to: Endpoint,
    readonly query: Buffer,
    readonly questionEnd: number,
    readonly at: number,
    readonly timeoutMs: number,
    readonly handler: ReplyHandler,
    private readonly client: UdpUpstreamClient,
  ) {}

  expire(): void {
    this.client.settle(this, new UpstreamError(this.to.label, 'timeout', `no answer within ${this.timeoutMs} ms`));
  }
}

/** A socket connected to one upstream: the kernel drops datagrams from anyone else, and a send needs no address. */
class PoolSocket {
  readonly pending = new Map<number, Pending>();
  uses = 0;
  constructor(
    readonly socket: dgram.Socket,
    readonly to: Endpoint,
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
  /** Per upstream (by label). */
  private readonly pools = new Map<string, PoolSocket[]>();
  private readonly poolSize: number;
  private readonly maxUses: number;
  private readonly deadlines: DeadlineQueue;
  private closed = false;

  constructor(private readonly opts: UdpClientOptions) {
    this.poolSize = opts.poolSize ?? 16;
    this.maxUses = opts.maxUses ?? 5000;
    this.deadlines = new DeadlineQueue(opts.clock);
  }

  /**
   * Send `raw` to `to`; `handler` is told once with the accepted reply or an UpstreamError (timeout).
   * `deadline` (clock ms) lets a caller that sends one query to several upstreams read the clock once.
   */
  send(raw: Buffer, questionEnd: number, to: Endpoint, timeoutMs: number, handler: ReplyHandler, deadline = this.opts.clock.now() + timeoutMs): void {
    const id = (raw[0]! << 8) | raw[1]!;
    const ps = this.pick(to, id);
    const p = new Pending(ps, id, to, raw, questionEnd, deadline, timeoutMs, handler, this);
    ps.pending.set(id, p);
    this.deadlines.add(p);
    // No send callback (it costs a tick per packet): a lost send ends as a timeout.
    ps.socket.send(raw);
  }

  /** Promise form of send (tests, tools). */
  query(raw: Buffer, questionEnd: number, to: Endpoint, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => this.send(raw, questionEnd, to, timeoutMs, { onReply: (err, b) => (err ? reject(err) : resolve(b!)) }));
  }

  close(): void {
    this.closed = true;
    this.deadlines.clear();
    for (const pool of this.pools.values()) for (const ps of pool.splice(0)) ps.socket.close();
    this.pools.clear();
  }

  /** End a query (reply or timeout) exactly once. */
  settle(p: Pending, err?: UpstreamError, reply?: Buffer): void {
    if (!p.settled) {
      p.settled = true;
      this.deadlines.settled();
    }
    const ps = p.ps;
    if (ps.pending.get(p.id) === p) ps.pending.delete(p.id);
    this.retire(ps);
    p.handler.onReply(err, reply);
  }

  /** The upstream refused (ICMP port unreachable): every query waiting on this socket fails. */
  private refused(ps: PoolSocket): void {
    if (!ps.pending.size) return;
    const err = new UpstreamError(ps.to.label, 'network', 'port unreachable (ICMP): nothing listens there');
    for (const p of [...ps.pending.values()]) this.settle(p, err);
  }

  /** A random socket of the pool with no query of this ID in flight. */
  private pick(to: Endpoint, id: number): PoolSocket {
    let pool = this.pools.get(to.label);
    if (!pool) this.pools.set(to.label, (pool = []));
    while (pool.length < this.poolSize) pool.push(this.open(to));
    const n = pool.length;
    const start = (Math.random() * n) | 0;
    for (let i = 0; i < n; i++) {
      const ps = pool[(start + i) % n]!;
      if (!ps.pending.has(id)) {
        ps.uses++;
        return ps;
      }
    }
    // Same ID from many clients at once: one more socket for it.
    const extra = this.open(to);
    pool.push(extra);
    extra.uses++;
    return extra;
  }

  private open(to: Endpoint): PoolSocket {
    const socket = dgram.createSocket({ type: to.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup as never });
    const ps = new PoolSocket(socket, to);
    socket.on('message', (msg, rinfo) => this.onMessage(ps, msg, rinfo));
    // A connected socket reports an upstream's ICMP port-unreachable as ECONNREFUSED: nobody
    // listens there, so the queries waiting on this socket (all to that upstream) fail now instead
    // of at their timeout, and the forwarder can ask another upstream meanwhile.
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? this.refused(ps) : this.opts.log.warn('upstream_socket_error', { err })));
    // exclusive: in a dispatcher worker process the port must not be shared through the parent.
    socket.bind({ port: 0, exclusive: true }, () => socket.connect(to.port, to.host));
    socket.unref();
    return ps;
  }

  private onMessage(ps: PoolSocket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const p = msg.length >= 12 ? ps.pending.get(msg.readUInt16BE(0)) : undefined;
    if (!p || rinfo.port !== p.to.port || rinfo.address !== p.to.host) return this.opts.onDropped?.('unexpected_source_or_id');
    if (!(msg[2]! & 0x80) || !sameQuestion(p.query, p.questionEnd, msg)) return this.opts.onDropped?.('question_mismatch');
    this.settle(p, undefined, msg);
  }

  /** Close an idle, worn socket (or an extra one beyond the pool size) so the next one gets a new port. */
  private retire(ps: PoolSocket): void {
    if (ps.pending.size || this.closed) return;
    const pool = this.pools.get(ps.to.label);
    if (!pool || (ps.uses < this.maxUses && pool.length <= this.poolSize)) return;
    const i = pool.indexOf(ps);
    if (i < 0 || (ps.uses < this.maxUses && i < this.poolSize)) return;
    pool.splice(i, 1);
    ps.socket.close();
  }
}
