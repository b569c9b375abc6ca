/**
 * Byte relay between two TCP sockets that reads into buffers it owns (Node's `onread`) instead of
 * 'data' events: no fresh 64 KiB allocation and no stream bookkeeping per read, and up to 256 KiB
 * per read; about 2.5 times the bytes per CPU-second (docs/benchmarks/l4lb.md).
 *
 * The rule that keeps bytes intact: a read buffer is read into again only once the write that
 * points into it has been flushed. While a write is queued its source stops reading, which is also
 * the back-pressure.
 *
 * Buffers follow the traffic: a leg starts with SMALL bytes, swaps it for a LARGE one after a read
 * that filled it, and back after a read of SMALL bytes or less, so an idle connection holds
 * 2 x SMALL and a bulk one 2 x LARGE. Buffers come from and go back to bounded free lists: a new
 * connection allocates nothing once the proxy is warm.
 */
import net from 'node:net';
import type { BackendCounters } from '../vipmetrics/counters.js';

export const SMALL = 4096;
export const LARGE = 262144;
/** Free buffers of each size, bounded (at most 4 MiB of small and 8 MiB of large ones kept). */
const free = new Map<number, Buffer[]>([
  [SMALL, []],
  [LARGE, []],
]);
const FREE_MAX = new Map([
  [SMALL, 1024],
  [LARGE, 32],
]);

const take = (size: number): Buffer => free.get(size)!.pop() ?? Buffer.allocUnsafeSlow(size);
function giveBack(b: Buffer): void {
  const list = free.get(b.length);
  if (list && list.length < FREE_MAX.get(b.length)!) list.push(b);
}

/** Large buffers waiting for a leg (tests: they return once connections close). */
export const freeBuffers = (): number => free.get(LARGE)!.length;

type OnRead = { buffer: () => Buffer; callback: (n: number, b: Buffer) => boolean };

/** One direction: reads `src`, writes `dst`. */
export class Leg {
  src?: net.Socket;
  dst?: net.Socket;
  private buf: Buffer = take(SMALL);
  private last = 0;
  /** A write into `dst` still points into `buf`. */
  private queued = false;
  private released = false;
  /** VIP metrics of the backend, when metrics are on: bytes read count here. */
  stats?: BackendCounters;
  readonly onread: OnRead = { buffer: () => this.next(), callback: (n, b) => this.chunk(n, b) };

  private chunk(n: number, b: Buffer): boolean {
    this.last = n;
    if (this.stats) this.stats.bytes += n;
    const dst = this.dst!;
    dst.write(b.subarray(0, n), this.flushed);
    if (dst.writableLength === 0) return true;
    this.queued = true;
    return false; // stop reading until flushed
  }

  /** The buffer for the next read (Node asks after every read, and once at the start). */
  private next(): Buffer {
    if (this.queued || this.released) return this.buf;
    if (this.last === this.buf.length && this.buf.length < LARGE) {
      giveBack(this.buf);
      this.buf = take(LARGE);
    } else if (this.last <= SMALL && this.buf.length === LARGE) {
      giveBack(this.buf);
      this.buf = take(SMALL);
    }
    return this.buf;
  }

  private readonly flushed = (): void => {
    if (!this.queued) return;
    this.queued = false;
    this.src?.resume();
  };

  /** Both sockets are closed: nothing reads into or writes from the buffer any more. */
  release(): void {
    if (this.released) return;
    this.released = true;
    giveBack(this.buf);
  }
}

/**
 * Wrap an accepted socket's handle in a Socket that reads into `onread` buffers (net.Server has no
 * such option). The server must accept with `pauseOnConnect`, so nothing was read yet; the new
 * socket starts paused too. The old Socket object is destroyed without its handle, which keeps
 * the server's connection count right. Without a handle (another runtime), `undefined`.
 */
export function adopt(accepted: net.Socket, onread: OnRead): net.Socket | undefined {
  const holder = accepted as unknown as { _handle?: object | null };
  const handle = holder._handle;
  if (!handle || accepted.destroyed) return undefined;
  holder._handle = null;
  accepted.destroy();
  const opts = { handle, onread, readable: true, writable: true, pauseOnCreate: true, allowHalfOpen: accepted.allowHalfOpen };
  return new net.Socket(opts as net.SocketConstructorOpts);
}

/** Relay with 'data' events: the path when `adopt` cannot take the accepted socket's handle. */
export function relayData(src: net.Socket, dst: net.Socket, stats?: BackendCounters): void {
  src.on('data', (d: Buffer) => {
    if (stats) stats.bytes += d.length;
    if (!dst.write(d)) src.pause();
  });
  dst.on('drain', () => src.resume());
}
