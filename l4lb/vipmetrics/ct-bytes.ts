/**
 * Bytes per VIP backend for the nftables driver, from conntrack accounting rather than a per-packet
 * rule (issue #28): with `net.netfilter.nf_conntrack_acct=1` (per network namespace) the kernel adds
 * each packet's length to its connection's counters as part of the conntrack work it does anyway.
 * Two NETLINK_NETFILTER sockets in the driver's namespace (native/nfnetlink.c):
 *   - events: joined to the destroy group; a connection that ends brings its final counters. They
 *     are drained every `drainMs` and at each read, without waiting, and summed per (VIP, backend).
 *     The kernel sends the event of every connection of the namespace; a socket filter
 *     (ct-filter.ts) drops in the kernel those without the metrics mark, so the agent reads only
 *     the VIP connections' events. Where it cannot be attached, the socket reads them all (the
 *     mark is checked here too) and `onFilterOff` says why;
 *   - dump: at read time, every live connection the metrics table marked (`MARK_COUNTED`; the
 *     kernel filters on the mark), with its counters so far.
 * bytes = finished + live: a read drains the events, dumps, and drains again (the dump itself
 * destroys expired connections it walks over: their events arrive then); a connection both dumped
 * and destroyed counts once, with its final figure (ids of the last two reads' events). A live
 * connection's bytes are those of the moment of the read.
 * With `nf_conntrack_events=2` (the default) the kernel keeps event state for new connections only
 * while a listener exists: metrics off (sockets closed) costs nothing per connection.
 */
import { nativeNfnetlink } from '../nft/netlink.js';
import { DriverError } from '../errors.js';
import { DESTROY_GROUP_MASK, IPS_DST_NAT, dumpRequest, parseFlows, type CtFlow } from './ct-decode.js';
import { backendName } from './counters.js';
import { destroyEventFilter } from './ct-filter.js';

/** (VIP address, protocol, backend `IP:PORT`): the key the metrics table's elements have too. */
export const flowKey = (vipIp: string, protocol: string, backend: string): string => `${vipIp} ${protocol} ${backend}`;

export interface ConntrackBytesOptions {
  /** The namespace file (/run/netns/NAME, /proc/PID/ns/net); undefined: this process's. */
  nsPath?: string;
  /** The ct mark bit the metrics table sets on a connection's first packet. */
  mark: number;
  /** How often queued destroy events are read (ms); default 250. */
  drainMs?: number;
  /** Told when the kernel dropped events (the socket's buffer was full): bytes of ended flows were lost. */
  onOverflow?(times: number): void;
  /** Told when a timed drain fails. */
  onError?(e: Error): void;
  /** The event socket's filter program; default `destroyEventFilter(mark)`; false: none (every event is read). */
  eventFilter?: Buffer | false;
  /** Told when the filter could not be attached (the socket then reads every connection's event). */
  onFilterOff?(reason: string): void;
}

/** Receive buffer of the event socket: a destroy event takes ~1 KiB of it; 32 MiB is ~30,000 between drains. */
const EVENT_RCVBUF = 32 << 20;

export class ConntrackBytes {
  /** Bytes of connections that ended, per flowKey. */
  private readonly finished = new Map<string, number>();
  /** Ids of destroyed connections read by this and the previous read. */
  private ended = new Set<number>();
  private endedBefore = new Set<number>();
  private timer?: NodeJS.Timeout;
  private seq = 1;
  /** Times the kernel dropped events since open. */
  overflows = 0;
  /** Flows read from destroy events since open, ours or not (with the filter, only ours reach the socket). */
  eventsRead = 0;

  private constructor(
    private readonly addon: NonNullable<ReturnType<typeof nativeNfnetlink>>,
    private events: number,
    private query: number,
    private readonly opts: ConntrackBytesOptions,
    /** Whether the event socket has the mark filter. */
    readonly filtered: boolean,
  ) {
    this.timer = setInterval(() => {
      try {
        this.drain();
      } catch (e) {
        opts.onError?.(e as Error);
      }
    }, opts.drainMs ?? 250);
    this.timer.unref();
  }

  /** Opens both sockets; throws (naming why) when the native module is missing or the namespace cannot be entered. */
  static open(opts: ConntrackBytesOptions): ConntrackBytes {
    const a = nativeNfnetlink();
    if (!a) throw new DriverError('nftables', 'VIP bytes need the native module nfnetlink (npm run build), which is not built');
    const where = opts.nsPath ? ` in ${opts.nsPath}` : '';
    const ns = opts.nsPath ?? null;
    let events = -1;
    try {
      const filter = opts.eventFilter ?? destroyEventFilter(opts.mark);
      let filterError: Error | undefined;
      if (filter)
        try {
          events = a.open(ns, DESTROY_GROUP_MASK, EVENT_RCVBUF, filter);
        } catch (e) {
          filterError = e as Error;
        }
      // Without the filter (it could not be attached: say so once the socket opened, or the failure was not the filter's).
      if (events < 0) events = a.open(ns, DESTROY_GROUP_MASK, EVENT_RCVBUF);
      if (filterError) opts.onFilterOff?.(filterError.message);
      return new ConntrackBytes(a, events, a.open(ns), opts, filter !== false && !filterError);
    } catch (e) {
      if (events >= 0) a.close(events);
      throw new DriverError('nftables', `cannot open conntrack netlink sockets${where}: ${(e as Error).message}`, { cause: e });
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const fd of [this.events, this.query]) if (fd >= 0) this.addon.close(fd);
    this.events = this.query = -1;
  }

  /** Read the queued destroy events into the finished totals. */
  drain(): void {
    if (this.events < 0) return;
    const [buf, overflows] = this.addon.drain(this.events);
    if (overflows) {
      this.overflows += overflows;
      this.opts.onOverflow?.(overflows);
    }
    const flows = parseFlows(buf);
    this.eventsRead += flows.length;
    for (const f of flows) {
      if (!f.destroyed || !this.ours(f)) continue;
      this.ended.add(f.id);
      const k = key(f);
      this.finished.set(k, (this.finished.get(k) ?? 0) + f.bytes);
    }
  }

  /** Bytes per flowKey now: ended connections plus live ones (a dump). */
  read(timeoutMs = 5000): Map<string, number> {
    if (this.query < 0) throw new DriverError('nftables', 'conntrack bytes: closed');
    this.endedBefore = this.ended;
    this.ended = new Set();
    this.drain();
    const replies = this.addon.dump(this.query, dumpRequest(this.seq++, this.opts.mark), timeoutMs);
    const errors: number[] = [];
    const live = parseFlows(replies, errors);
    if (errors.length) throw new DriverError('nftables', `conntrack dump failed: errno ${errors[0]}`);
    // A dump destroys the expired connections it walks over (their events are queued by now), and
    // connections may have ended while it ran: read those events too; a connection in both the dump
    // and an event counts once, with the event's final figure.
    this.drain();
    const out = new Map(this.finished);
    for (const f of live) {
      if (!this.ours(f) || this.ended.has(f.id) || this.endedBefore.has(f.id)) continue;
      const k = key(f);
      out.set(k, (out.get(k) ?? 0) + f.bytes);
    }
    return out;
  }

  /** Forget the finished total of a key (its VIP or backend is gone). */
  forget(k: string): void {
    this.finished.delete(k);
  }

  /** The keys with a finished total (to prune). */
  keys(): IterableIterator<string> {
    return this.finished.keys();
  }

  /** DNAT'd connections the metrics table counted (the mark, where the message carries it). */
  private ours(f: CtFlow): boolean {
    return (f.status & IPS_DST_NAT) !== 0 && (f.mark === undefined || (f.mark & this.opts.mark) === this.opts.mark);
  }
}

const key = (f: CtFlow) => flowKey(f.vipIp, f.protocol, backendName({ ip: f.backendIp, port: f.backendPort }));
