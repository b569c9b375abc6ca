/**
 * Lightweight simulated agents for the bench: raw HTTP/2 streams speaking the Watch protocol
 * (gRPC framing + protobuf), many streams per connection. They decode every update and ACK it,
 * like a ControlClient, without grpc-js's per-call machinery, so one process can drive 10,000
 * of them and the figures measure the master rather than the simulator.
 */
import http2 from 'node:http2';
import { loadControlProto, type WireUpdate } from '../../control/proto.js';

const WATCH = '/sextant.control.v1.Control/Watch';

function frame(msg: Buffer): Buffer {
  const f = Buffer.alloc(5 + msg.length);
  f.writeUInt32BE(msg.length, 1);
  msg.copy(f, 5);
  return f;
}

export class SimAgents {
  private sessions: http2.ClientHttp2Session[] = [];
  private streams: http2.ClientHttp2Stream[] = [];

  constructor(
    private readonly addr: string,
    private readonly onApplied: (agent: number, u: WireUpdate) => void,
  ) {}

  private session(i: number, connections: number): http2.ClientHttp2Session {
    const k = i % connections;
    let s = this.sessions[k];
    if (!s) {
      s = http2.connect(`http://${this.addr}`, { peerMaxConcurrentStreams: 1 << 20 });
      s.on('error', () => {});
      this.sessions[k] = s;
    }
    return s;
  }

  add(i: number, connections: number): void {
    const proto = loadControlProto();
    const req = this.session(i, connections).request({ ':method': 'POST', ':path': WATCH, 'content-type': 'application/grpc', te: 'trailers' });
    req.on('error', () => {});
    req.write(frame(proto.encodeAgentMessage({ msg: 'hello', hello: { agent_id: `sim-agent-${i}`, history: '', version: 0, parts: ['vips'] } })));
    let buf: Buffer = Buffer.alloc(0);
    req.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const len = buf.readUInt32BE(1);
        const u = proto.decodeUpdate(buf.subarray(5, 5 + len));
        buf = buf.subarray(5 + len);
        this.onApplied(i, u);
        req.write(frame(proto.encodeAgentMessage({ msg: 'ack', ack: { version: u.version, error: '' } })));
      }
    });
    this.streams.push(req);
  }

  close(): void {
    for (const s of this.streams) s.close();
    for (const s of this.sessions) s?.destroy();
  }
}
