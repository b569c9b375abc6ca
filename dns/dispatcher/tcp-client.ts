/**
 * Upstream queries over TCP (the client asked over TCP): one connection per query, the message
 * framed with its 2-byte length, the first frame with the query's ID and question is the answer.
 */
import net from 'node:net';
import type { Clock } from '../../common/clock.js';
import { sameQuestion, type Attempt } from './attempt.js';
import type { Endpoint } from './endpoint.js';
import { UpstreamError } from './errors.js';

export function tcpQuery(raw: Buffer, questionEnd: number, to: Endpoint, timeoutMs: number, clock: Clock): Attempt {
  let settle: (err?: Error, b?: Buffer) => void = () => {};
  const promise = new Promise<Buffer>((resolve, reject) => {
    let done = false;
    let buf = Buffer.alloc(0);
    const sock = net.connect({ host: to.host, port: to.port });
    const timer = clock.setTimeout(() => settle(new UpstreamError(to.label, 'timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
    settle = (err, b) => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(b!);
    };
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(raw.length);
      sock.write(Buffer.concat([len, raw]));
    });
    sock.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        if (msg.length >= 12 && msg.readUInt16BE(0) === raw.readUInt16BE(0) && msg[2]! & 0x80 && sameQuestion(raw, questionEnd, msg)) {
          return settle(undefined, Buffer.from(msg));
        }
      }
    });
    sock.on('error', (e) => settle(new UpstreamError(to.label, 'network', e.message)));
    sock.on('close', () => settle(new UpstreamError(to.label, 'network', 'connection closed before an answer')));
  });
  return { promise, cancel: () => settle(new UpstreamError(to.label, 'aborted', 'another upstream answered first')) };
}
