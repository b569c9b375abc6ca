/**
 * A UDP server socket that receives and sends in batches, through the native module
 * `native/udpbatch.c` (recvmmsg/sendmmsg): one JavaScript call per batch of datagrams instead of
 * Node dgram's callback, address object and buffer per datagram.
 *
 * The handler gets each datagram as its own Buffer and a `reply` to call once, now or later.
 * Replies given while the batch is being handled leave in one sendmmsg at its end; later ones are
 * gathered until the event loop's next check phase. When the module is not built (no compiler, or
 * SEXTANT_UDP_BATCH=0), `nativeUdp()` is undefined and callers keep using dgram.
 */
import ipaddr from 'ipaddr.js';
import { loadNative } from './native.js';

/** Largest datagram received (a longer one is dropped and counted) and batched on send. */
export const SLOT = 4096;
/** Datagrams per recvmmsg / sendmmsg. */
export const BATCH = 64;
/** Per-datagram metadata, shared with the C side: u32 length, u32 address length, sockaddr (28 bytes). */
const META = 40;

interface Addon {
  open(family: number, addr: Buffer, port: number, slot: number, batch: number, rx: Buffer, rxMeta: Buffer, cb: (n: number) => void, self: object, fd: number): unknown;
  send(h: unknown, data: Buffer, meta: Buffer, slot: number, n: number): number;
  close(h: unknown): void;
  port(h: unknown): number;
  fd(h: unknown): number;
}

let addon: Addon | null | undefined;

/** The native module, or undefined when it is not built or turned off (SEXTANT_UDP_BATCH=0). */
export function nativeUdp(): Addon | undefined {
  if (addon === undefined) addon = process.env.SEXTANT_UDP_BATCH === '0' ? null : (loadNative<Addon>('udpbatch') ?? null);
  return addon ?? undefined;
}

export type BatchHandler = (msg: Buffer, reply: (answer: Buffer | undefined) => void) => void;

export interface BatchSocketOptions {
  ip: string;
  port: number;
  handler: BatchHandler;
  /** Serve this inherited descriptor (a worker process) instead of binding a new socket. */
  fd?: number;
  /** A handler that throws: the datagram is dropped. */
  onHandlerError?(err: unknown): void;
  /** Datagrams lost here: a query longer than SLOT, or replies the kernel did not take (full buffer, unreachable sender). */
  onDrop?(reason: BatchDropReason, count: number): void;
}

export type BatchDropReason = 'oversized_query' | 'send_failed';

/** Received datagrams, shared by every socket of the process: a batch is handled before the next is read. */
const rx = Buffer.alloc(SLOT * BATCH);
const rxMeta = Buffer.alloc(META * BATCH);

/** The reply for one datagram: its sender's address is read from the batch, or kept once the batch is gone. */
class Reply {
  addr?: Buffer;
  done = false;
  constructor(
    private readonly sock: BatchUdpSocket,
    private readonly i: number,
  ) {}

  readonly send = (answer: Buffer | undefined): void => {
    if (this.done) return;
    this.done = true;
    if (answer) this.sock.queue(answer, this.addr ?? rxMeta, this.addr ? 0 : this.i * META);
  };

  keepAddress(): void {
    this.addr = Buffer.allocUnsafe(META);
    rxMeta.copy(this.addr, 0, this.i * META, this.i * META + META);
  }
}

export class BatchUdpSocket {
  readonly ip: string;
  private readonly h: unknown;
  private readonly native: Addon;
  private readonly tx = Buffer.alloc(SLOT * BATCH);
  private readonly txMeta = Buffer.alloc(META * BATCH);
  private queued = 0;
  private inBatch = false;
  private flushTimer?: NodeJS.Immediate;
  private closed = false;

  /** Binds (or adopts `fd`); throws if the module is missing or the bind fails (the error names the address). */
  constructor(private readonly opts: BatchSocketOptions) {
    const native = nativeUdp();
    if (!native) throw new Error('udp-batch: native module not built (npm run build)');
    this.native = native;
    this.ip = opts.ip;
    try {
      const addr = ipaddr.parse(opts.ip);
      const family = addr.kind() === 'ipv6' ? 6 : 4;
      this.h = native.open(family, Buffer.from(addr.toByteArray()), opts.port, SLOT, BATCH, rx, rxMeta, (n) => this.onBatch(n), this, opts.fd ?? -1);
    } catch (err) {
      throw new Error(`udp-batch: cannot bind ${opts.ip}:${opts.port}: ${(err as Error).message}`, { cause: err });
    }
  }

  get port(): number {
    return this.native.port(this.h);
  }

  /** The descriptor, for handing to a worker process (which passes it back as `fd`). */
  get fd(): number {
    return this.native.fd(this.h);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.native.close(this.h);
  }

  private onBatch(n: number): void {
    this.inBatch = true;
    try {
      for (let i = 0; i < n && !this.closed; i++) {
        const len = rxMeta.readUInt32LE(i * META);
        if (len === 0) {
          this.opts.onDrop?.('oversized_query', 1);
          continue;
        }
        const msg = Buffer.from(rx.subarray(i * SLOT, i * SLOT + len));
        const r = new Reply(this, i);
        try {
          this.opts.handler(msg, r.send);
        } catch (err) {
          this.opts.onHandlerError?.(err);
        }
        if (!r.done) r.keepAddress();
      }
    } finally {
      this.inBatch = false;
      this.flush();
    }
  }

  /** Queue `answer` to the address at meta[off + 4 ...]. */
  queue(answer: Buffer, meta: Buffer, off: number): void {
    if (this.closed) return;
    if (answer.length > SLOT) return this.sendAlone(answer, meta, off);
    if (this.queued === BATCH) this.flush();
    const k = this.queued++;
    answer.copy(this.tx, k * SLOT);
    this.txMeta.writeUInt32LE(answer.length, k * META);
    meta.copy(this.txMeta, k * META + 4, off + 4, off + META);
    if (!this.inBatch && !this.flushTimer) this.flushTimer = setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    const n = this.queued;
    this.queued = 0;
    if (n === 0 || this.closed) return;
    this.sent(n, this.native.send(this.h, this.tx, this.txMeta, SLOT, n));
  }

  private sendAlone(answer: Buffer, meta: Buffer, off: number): void {
    const m = Buffer.alloc(META);
    m.writeUInt32LE(answer.length, 0);
    meta.copy(m, 4, off + 4, off + META);
    this.sent(1, this.native.send(this.h, answer, m, answer.length, 1));
  }

  private sent(tried: number, taken: number): void {
    if (taken < tried) this.opts.onDrop?.('send_failed', tried - taken);
  }
}
