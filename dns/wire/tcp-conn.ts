/**
 * One DNS-over-TCP connection on the server side (RFC 7766), shared by Mesos-DNS and the
 * dispatcher: 2-byte length framing, pipelined queries answered as they complete, and the abuse
 * cases closed instead of left hanging:
 *
 * - a frame of length 0: nothing to answer (no ID), the connection is closed;
 * - a frame shorter than a DNS header (1-11 bytes), or over `maxFrame`: FORMERR with the ID when
 *   the ID is there (not to a response: no loops), then the connection is closed (its framing can
 *   no longer be trusted);
 * - idle (no bytes either way) for `idleMs`, whether between queries or inside a cut frame: closed;
 *   answers still being worked on get one more `idleMs` to be sent, then it is closed anyway;
 * - half-closed by the client (FIN): the answers in flight are sent, then the connection is ended.
 *
 * The server must be created with `allowHalfOpen: true`, so a FIN does not end our side early.
 */
import type net from 'node:net';
import { HEADER_SIZE, Rcode } from './constants.js';
import { errorReply } from './patch.js';

export type BadFrame = 'empty_frame' | 'short_frame' | 'oversized_frame';

export interface TcpConnOptions {
  /** Largest query frame accepted. */
  maxFrame: number;
  /** Close after this long with no bytes either way (ms). */
  idleMs: number;
  /** One query; `reply` once (undefined: no answer). */
  handle(msg: Buffer, reply: (answer: Buffer | undefined) => void): void;
  /** Header flags ORed into a FORMERR (the dispatcher sets RA). */
  formErrFlags?: number;
  /** A bad length prefix was seen (the connection is being closed). */
  onBadFrame?(why: BadFrame, len: number): void;
}

/** FORMERR for a frame that is not a DNS message, when it has an ID and is not a response. */
export function frameFormErr(frame: Buffer, extraFlags = 0): Buffer | undefined {
  if (frame.length < 2 || (frame.length >= 3 && frame[2]! & 0x80)) return undefined;
  return errorReply(frame, undefined, Rcode.FORMERR, extraFlags);
}

/** Serve DNS on an accepted socket until it closes. */
export function serveTcpConnection(sock: net.Socket, o: TcpConnOptions): void {
  let buf: Buffer = Buffer.alloc(0);
  let inflight = 0;
  /** No more queries are read: a bad frame, idle time-out or FIN; close once nothing is in flight. */
  let closing = false;
  // Our FIN after the last answer, and the socket released once that is flushed: a client that
  // never reads or closes does not keep it.
  const finish = (): void => {
    if (inflight === 0 && !sock.destroyed && !sock.writableEnded) sock.end(() => sock.destroy());
  };
  const stop = (): void => {
    closing = true;
    buf = Buffer.alloc(0);
    finish();
  };
  const write = (msg: Buffer): void => {
    if (sock.destroyed || sock.writableEnded) return;
    const framed = Buffer.allocUnsafe(msg.length + 2);
    framed.writeUInt16BE(msg.length, 0);
    msg.copy(framed, 2);
    sock.write(framed);
  };
  const reply = (answer: Buffer | undefined): void => {
    inflight--;
    if (answer) write(answer);
    if (closing) finish();
  };
  const bad = (why: BadFrame, len: number, frame: Buffer): void => {
    o.onBadFrame?.(why, len);
    const fe = frameFormErr(frame, o.formErrFlags);
    if (fe) write(fe);
    stop();
  };

  sock.setNoDelay(true);
  sock.setTimeout(o.idleMs, () => {
    // Idle: a cut frame or a silent client. Answers in flight get one more idle period to be sent.
    if (inflight === 0 || closing) return sock.destroy();
    stop();
    sock.setTimeout(o.idleMs);
  });
  sock.on('error', () => sock.destroy());
  sock.on('end', stop);
  sock.on('data', (d: Buffer) => {
    if (closing) return;
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 2 && !closing) {
      const len = buf.readUInt16BE(0);
      if (len === 0) return bad('empty_frame', 0, Buffer.alloc(0));
      if (len > o.maxFrame) {
        if (buf.length < 5) return; // wait for the ID and flags (or the idle time-out)
        return bad('oversized_frame', len, buf.subarray(2, 5));
      }
      if (buf.length < 2 + len) return;
      const msg = Buffer.from(buf.subarray(2, 2 + len));
      buf = buf.subarray(2 + len);
      if (len < HEADER_SIZE) return bad('short_frame', len, msg);
      inflight++;
      let answered = false;
      o.handle(msg, (answer) => {
        if (answered) return;
        answered = true;
        reply(answer);
      });
    }
  });
}
