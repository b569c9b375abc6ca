/**
 * One TCP service on the native relay (native-relay.ts): the same behaviour as the net.Socket path
 * in service.ts (backend per client from the balancer, a refused or timed-out connect moves on to
 * the next backend once per backend, the client is read only once a backend accepted, drain keeps
 * open connections), with the bytes moved in C.
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { Logger } from '../../common/log.js';
import { performance } from 'node:perf_hooks';
import type { Balancer, Slot } from './balancer.js';
import type { BackendCounters } from '../vipmetrics/counters.js';
import type { NativeRelay, RelayHandlers } from './native-relay.js';
import { ConnectSweep } from './sweep.js';
import type { ListenAddress } from './service.js';
import { isLocalError, type SocketOp } from './local-errors.js';

interface Client {
  peer: string;
  /** The backend it is connected or connecting to (counted open on the balancer). */
  slot?: Slot;
  tried?: Set<string>;
  /** When the current connect started (performance.now(), ms), when metrics are on. */
  t0?: number;
}

const errName = (errno: number) => {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
};

export interface NativeTcpOptions {
  balancer: Balancer;
  log: Logger;
  connectTimeoutMs: number;
  onUnreachable(backend: string): void;
  onSocketError?(op: SocketOp, errno: string): void;
  service(): string;
  /** VIP metrics of a backend; absent when metrics are off. */
  stats?(slot: Slot): BackendCounters;
}

export class NativeTcpService implements RelayHandlers {
  private readonly srv: number;
  private listener?: object;
  private readonly clients = new Map<number, Client>();
  private readonly connects: ConnectSweep<number>;
  private registered = true;

  constructor(
    private readonly relay: NativeRelay,
    private readonly listen: ListenAddress,
    private readonly opts: NativeTcpOptions,
  ) {
    this.srv = relay.register(this);
    this.connects = new ConnectSweep(opts.connectTimeoutMs, (id) => {
      if (this.relay.abort(id)) this.connectFailed(id, constants.errno.ETIMEDOUT);
    });
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Throws (naming the address) when it cannot listen. */
  start(): void {
    if (this.listener) return;
    if (!this.registered) this.relay.register(this, this.srv);
    this.registered = true;
    try {
      this.listener = this.relay.listen(this.srv, this.listen.host, this.listen.port);
    } catch (e) {
      this.release();
      const err = new Error(`listen ${this.listen.host}:${this.listen.port}: ${(e as Error).message}`);
      throw Object.assign(err, { errno: (e as { errno?: number }).errno });
    }
  }

  /** Stop listening; without `drain`, close every open connection too. */
  stop(drain: boolean): void {
    this.unlisten();
    if (!drain) {
      this.connects.stop();
      for (const [id, c] of this.clients) this.drop(id, c);
    }
    this.release();
  }

  /** Tests: the listener goes away behind the driver's back. */
  unlisten(): void {
    if (this.listener) this.relay.unlisten(this.listener);
    this.listener = undefined;
  }

  accepted(id: number, peer: string): void {
    const c: Client = { peer };
    this.clients.set(id, c);
    this.dial(id, c);
  }

  connected(id: number): void {
    this.connects.delete(id);
    const c = this.opts.stats && this.clients.get(id);
    if (c && c.slot) this.opts.stats!(c.slot).connected((performance.now() - c.t0!) / 1000);
  }

  connectFailed(id: number, errno: number): void {
    const c = this.clients.get(id);
    if (!c?.slot) return;
    this.connects.delete(id);
    const slot = c.slot;
    c.slot = undefined;
    this.opts.balancer.closed(slot);
    this.unreachable(c, slot, errno);
    this.dial(id, c);
  }

  closed(id: number, bytes: number): void {
    const c = this.clients.get(id);
    if (!c) return;
    if (this.opts.stats && c.slot) this.opts.stats(c.slot).bytes += bytes;
    this.connects.delete(id);
    this.forget(id, c);
    this.release();
  }

  acceptError(errno: number): void {
    const name = errName(errno);
    this.opts.log.warn('userspace_accept_error', { service: this.opts.service(), err: name });
    this.opts.onSocketError?.('accept', name);
  }

  handlerError(err: unknown): void {
    this.opts.log.error('userspace_relay_handler_error', { service: this.opts.service(), err });
  }

  /** Connect the client to the next backend it has not tried; none left: drop it. */
  private dial(id: number, c: Client): void {
    const bal = this.opts.balancer;
    for (;;) {
      const slot = bal.pick(bal.wantsClient ? c.peer : '', c.tried);
      if (!slot) return this.drop(id, c);
      const err = this.relay.dial(id, slot.backend.ip, slot.backend.port);
      if (err === 0) {
        bal.opened(slot);
        c.slot = slot;
        if (this.opts.stats) c.t0 = performance.now();
        this.connects.add(id);
        return;
      }
      const name = errName(err);
      if (isLocalError(name)) {
        // This process is out of sockets: no backend is to blame, and the next would fail alike.
        this.opts.onSocketError?.('connect', name);
        this.opts.log.warn('userspace_no_socket', { service: this.opts.service(), err: name });
        return this.drop(id, c);
      }
      this.unreachable(c, slot, err);
    }
  }

  private unreachable(c: Client, slot: Slot, errno: number): void {
    (c.tried ??= new Set()).add(slot.id);
    this.opts.stats?.(slot).failed();
    this.opts.onUnreachable(slot.id);
    this.opts.log.warn('userspace_backend_unreachable', { service: this.opts.service(), backend: slot.id, err: errName(errno) });
  }

  /** Close the client (and any backend socket) now. */
  private drop(id: number, c: Client): void {
    this.relay.drop(id);
    this.forget(id, c);
  }

  private forget(id: number, c: Client): void {
    this.clients.delete(id);
    if (c.slot) this.opts.balancer.closed(c.slot);
    c.slot = undefined;
  }

  /** Stopped and no connection left: no more events can come. */
  private release(): void {
    if (this.listener || this.clients.size > 0 || !this.registered) return;
    this.relay.unregister(this.srv);
    this.registered = false;
  }
}
