/**
 * The native TCP relay (`native/tcprelay.c`): accepts, connects and moves bytes in C, in one epoll
 * set that libuv watches as a single descriptor; every decision stays here in JavaScript (which
 * backend, retry after a refused connect, connect timeouts, drain). One relay per process serves
 * every listener; its events are routed to the listener's handlers by a small server number.
 *
 * Connected clients are relayed on relay threads (SEXTANT_TCP_RELAY_THREADS, default 1; 0 keeps
 * every byte on the event loop), so the event loop keeps accepting and connecting meanwhile.
 *
 * When the module is not built (no compiler) or SEXTANT_TCP_RELAY=0, `nativeRelay()` is undefined
 * and the proxy relays with net.Socket (relay.ts).
 */
import { loadNative } from '../../common/native.js';

interface Addon {
  init(cb: (kind: number, srv: number, id: number, err: number, peer: string | undefined, bytes: number) => void, self: object, threads: number): void;
  listen(srv: number, ip: string, port: number): object;
  port(l: object): number;
  unlisten(l: object): void;
  dial(id: number, ip: string, port: number): number;
  drop(id: number): void;
  abort(id: number): boolean;
  stats(): [number, number];
}

/** What a listener is told; `id` names one accepted client and its backend connection. */
export interface RelayHandlers {
  /** A client was accepted: `dial` it to a backend or `drop` it (doing neither drops it). */
  accepted(id: number, peer: string): void;
  connected(id: number): void;
  /** The connect failed (errno): `dial` another backend or `drop` (doing neither drops it). */
  connectFailed(id: number, errno: number): void;
  /** Both directions ended, or a socket failed; not called after `drop`. `bytes`: relayed both ways. */
  closed(id: number, bytes: number): void;
  acceptError(errno: number): void;
  /** A handler threw (the relay carries on). */
  handlerError(err: unknown): void;
}

const EV_ACCEPT = 1;
const EV_CONNECTED = 2;
const EV_CONNECT_FAILED = 3;
const EV_CLOSED = 4;
const EV_ACCEPT_ERROR = 5;

export class NativeRelay {
  private readonly servers = new Map<number, RelayHandlers>();
  private next = 1;

  constructor(
    private readonly addon: Addon,
    /** Relay threads: bytes of connected clients move there, off the event loop (0: on it). */
    readonly threads: number,
  ) {
    addon.init(this.onEvent, this, threads);
  }

  /** A server number for `handlers` (or `srv` again, after `unregister`); events for it arrive until `unregister`. */
  register(handlers: RelayHandlers, srv = this.next++): number {
    this.servers.set(srv, handlers);
    return srv;
  }

  unregister(srv: number): void {
    this.servers.delete(srv);
  }

  /** Listen on an IP literal; throws (with `errno`) when the address cannot be bound. */
  listen(srv: number, ip: string, port: number): object {
    return this.addon.listen(srv, ip, port);
  }

  port(listener: object): number {
    return this.addon.port(listener);
  }

  /** The port is free when this returns; connections already accepted carry on. */
  unlisten(listener: object): void {
    this.addon.unlisten(listener);
  }

  /** 0, or the errno of a connect that failed at once (then dial again or drop). */
  dial(id: number, ip: string, port: number): number {
    return this.addon.dial(id, ip, port);
  }

  drop(id: number): void {
    this.addon.drop(id);
  }

  /** Give up a connect in flight (timeout): true if there was one; the client can be dialed again. */
  abort(id: number): boolean {
    return this.addon.abort(id);
  }

  /** Open connections and listeners of the whole process. */
  stats(): { connections: number; listeners: number } {
    const [connections, listeners] = this.addon.stats();
    return { connections, listeners };
  }

  private readonly onEvent = (kind: number, srv: number, id: number, err: number, peer: string | undefined, bytes: number): void => {
    const h = this.servers.get(srv);
    if (!h) return; // the C side drops a client nobody dialed
    try {
      if (kind === EV_ACCEPT) h.accepted(id, peer ?? '');
      else if (kind === EV_CONNECTED) h.connected(id);
      else if (kind === EV_CONNECT_FAILED) h.connectFailed(id, err);
      else if (kind === EV_CLOSED) h.closed(id, bytes);
      else if (kind === EV_ACCEPT_ERROR) h.acceptError(err);
    } catch (e) {
      h.handlerError(e);
    }
  };
}

let relay: NativeRelay | null | undefined;

/** SEXTANT_TCP_RELAY_THREADS: 0 to 16, default 1 (the event loop accepts and connects, one thread relays). */
export function relayThreads(v: string | undefined): number {
  if (v === undefined || v === '') return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error(`SEXTANT_TCP_RELAY_THREADS must be an integer from 0 to 16, got ${JSON.stringify(v)}`);
  return n;
}

/** The process's relay, or undefined when the module is not built or turned off (SEXTANT_TCP_RELAY=0). */
export function nativeRelay(): NativeRelay | undefined {
  if (relay === undefined) {
    const addon = process.env.SEXTANT_TCP_RELAY === '0' ? undefined : loadNative<Addon>('tcprelay');
    relay = addon ? new NativeRelay(addon, relayThreads(process.env.SEXTANT_TCP_RELAY_THREADS)) : null;
  }
  return relay ?? undefined;
}
