/**
 * DNS-over-TCP abuse cases, as rows both servers' tests run against a live listener: raw bytes on a
 * real connection, what comes back, and how soon the server closes it.
 */
import net from 'node:net';
import type { Test } from 'tap';

export interface RawResult {
  /** Every byte the server sent. */
  data: Buffer;
  /** The server closed the connection (within the wait). */
  closed: boolean;
  /** ms from the last write to the close. */
  ms: number;
}

/** Write `chunks` (and FIN when `end`), read until the server closes or `waitMs` passes. */
export function rawTcp(host: string, port: number, chunks: Buffer[], opts: { end?: boolean; waitMs?: number } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let t0 = Date.now();
    const s = net.connect({ host, port, allowHalfOpen: true }, () => {
      for (const c of chunks) s.write(c);
      if (opts.end) s.end();
      t0 = Date.now();
    });
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(got), closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 3000);
    s.on('data', (d) => got.push(d));
    s.on('end', () => finish(true));
    s.on('error', () => finish(true));
  });
}

export function frame(msg: Buffer, len = msg.length): Buffer {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(len);
  return Buffer.concat([p, msg]);
}

/** The messages framed in a TCP byte stream (a cut last frame is left out). */
export function frames(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 2 <= data.length && off + 2 + data.readUInt16BE(off) <= data.length) {
    out.push(data.subarray(off + 2, off + 2 + data.readUInt16BE(off)));
    off += 2 + data.readUInt16BE(off);
  }
  return out;
}

export interface AbuseRow {
  name: string;
  chunks: Buffer[];
  end?: boolean;
  /** rcode and ID of each answer expected, in order. */
  answers: { id: number; rcode: number }[];
  /** The close comes at once (< 1 s) or after the idle time-out. */
  close: 'now' | 'idle';
}

/**
 * The rows for a server whose idle time-out is short; `good` is a query it answers NOERROR (ID
 * 0x4242), `maxFrame` its frame cap (undefined: 65535, no oversized row).
 */
export function abuseRows(good: Buffer, maxFrame?: number): AbuseRow[] {
  const id = good.readUInt16BE(0);
  const rows: AbuseRow[] = [
    { name: 'zero length prefix: no ID to answer, closed', chunks: [Buffer.from([0, 0]), good], answers: [], close: 'now' },
    { name: 'one-byte frame: no ID, closed', chunks: [frame(good.subarray(0, 1))], answers: [], close: 'now' },
    { name: 'short length prefix (5 of a whole query): FORMERR with its ID, closed', chunks: [frame(good, 5), good.subarray(5)], answers: [{ id, rcode: 1 }], close: 'now' },
    { name: 'a good query, then a short frame: both answered, then closed', chunks: [frame(good), frame(good.subarray(0, 11))], answers: [{ id, rcode: 0 }, { id, rcode: 1 }], close: 'now' },
    { name: 'a frame cut short, then silence: closed after the idle time-out', chunks: [frame(good, good.length + 10)], answers: [], close: 'idle' },
    { name: 'a length prefix cut in half: closed after the idle time-out', chunks: [Buffer.from([0])], answers: [], close: 'idle' },
    { name: 'nothing sent: closed after the idle time-out', chunks: [], answers: [], close: 'idle' },
    { name: 'a query then FIN (half-close): answered, then closed', chunks: [frame(good)], end: true, answers: [{ id, rcode: 0 }], close: 'now' },
    { name: 'a response (QR set) in a short frame: not answered (no loops), closed', chunks: [frame(Buffer.from([0x42, 0x42, 0x81, 0x80, 0, 0]))], answers: [], close: 'now' },
  ];
  if (maxFrame !== undefined) {
    rows.push({ name: `frame over ${maxFrame} bytes: FORMERR with its ID, closed`, chunks: [frame(good, maxFrame + 1)], answers: [{ id, rcode: 1 }], close: 'now' });
  }
  return rows;
}

/** Run every row against host:port (idle time-out `idleMs`). */
export async function runAbuseRows(t: Test, host: string, port: number, idleMs: number, rows: AbuseRow[]): Promise<void> {
  for (const row of rows) {
    await t.test(row.name, async (t) => {
      const r = await rawTcp(host, port, row.chunks, { end: row.end, waitMs: idleMs * 3 + 2000 });
      t.ok(r.closed, 'the server closed the connection');
      t.same(frames(r.data).map((m) => ({ id: m.readUInt16BE(0), rcode: m[3]! & 0xf })), row.answers, 'answers');
      if (row.close === 'now') t.ok(r.ms < 1000, `closed at once (${r.ms} ms)`);
      else t.ok(r.ms >= idleMs - 50 && r.ms < idleMs + 1500, `closed after the ${idleMs} ms idle time-out (${r.ms} ms)`);
    });
  }
}
