/**
 * Protocol robustness: garbage, protocol violations and unknown agents get a clear gRPC error and
 * change nothing; a client that stops reading costs the master one in-flight message, not a queue.
 */
import t from 'tap';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { loadControlProto, type WireAgentMessage, type WireUpdate } from '../proto.js';
import { clientReaches, RecordingConsumer, SettableSource, startClient, startServer, vip } from './helpers.js';

const WATCH = '/sextant.control.v1.Control/Watch';

/** Open a Watch stream that sends raw bytes and resolves with the status it ends with. */
function rawWatch(t: { teardown(fn: () => unknown): void }, addr: string, frames: Buffer[]): Promise<grpc.StatusObject> {
  const client = new grpc.Client(addr, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(WATCH, (b) => b, (b) => b);
  call.on('data', () => {});
  const done = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => {});
  for (const f of frames) call.write(f);
  return done;
}

const enc = (m: WireAgentMessage) => loadControlProto().encodeAgentMessage(m);
const hello = (agent_id: string, parts: string[] = ['vips'], version = 0) => ({ msg: 'hello' as const, hello: { agent_id, history: '', version, parts } });

const cases: { name: string; frames: () => Buffer[]; code: grpc.status; details: RegExp }[] = [
  { name: 'bytes that are not protobuf', frames: () => [Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])], code: grpc.status.INVALID_ARGUMENT, details: /malformed AgentMessage/ },
  { name: 'an empty message first', frames: () => [enc({})], code: grpc.status.INVALID_ARGUMENT, details: /first message must be a hello/ },
  { name: 'an ack before hello', frames: () => [enc({ msg: 'ack', ack: { version: 1, error: '' } })], code: grpc.status.INVALID_ARGUMENT, details: /first message must be a hello, got ack/ },
  { name: 'an empty agent id', frames: () => [enc(hello(''))], code: grpc.status.INVALID_ARGUMENT, details: /not a valid agent id/ },
  { name: 'an unknown part', frames: () => [enc(hello('a1', ['vips', 'bogus']))], code: grpc.status.INVALID_ARGUMENT, details: /unknown part "bogus"/ },
  { name: 'an unknown agent id', frames: () => [enc(hello('stranger'))], code: grpc.status.NOT_FOUND, details: /unknown agent id 'stranger'/ },
  { name: 'an ack for a version never sent', frames: () => [enc(hello('a9')), enc({ msg: 'ack', ack: { version: 99, error: '' } })], code: grpc.status.INVALID_ARGUMENT, details: /never sent/ },
  { name: 'a second hello', frames: () => [enc(hello('a9')), enc(hello('a9'))], code: grpc.status.INVALID_ARGUMENT, details: /expected an ack after hello, got hello/ },
];

t.test('bad streams get a clear gRPC error and change nothing', async (t) => {
  const vips = new SettableSource('vips', [vip('web', '11.0.0.1', [['10.0.0.1', 80]])]);
  const known = new Set(['a1', 'a9']);
  const server = await startServer(t, { sources: [vips], isKnownAgent: (id) => known.has(id) });
  const addr = `127.0.0.1:${server.port}`;
  const good = await startClient(t, { agentId: 'a1', masters: [addr], consumers: [new RecordingConsumer('l4lb', ['vips'])] });
  await clientReaches(good, (s) => s.applied === 1, 'good client at version 1');
  for (const c of cases) {
    const st = await rawWatch(t, addr, c.frames());
    t.equal(grpc.status[st.code], grpc.status[c.code], `${c.name}: status code`);
    t.match(st.details, c.details, `${c.name}: details name the problem`);
  }
  const status = server.status();
  t.same(status.agents.map((a) => a.agent_id).filter((id) => id !== 'a9'), ['a1'], 'no agent rows from rejected hellos');
  t.equal(server.engine.version, 1, 'no new version');
  t.same(good.state().connected, true, 'the good client is still connected');
  vips.set([]);
  await clientReaches(good, (s) => s.applied === 2, 'good client still converges');
});

/**
 * A watcher on raw HTTP/2 that really stops reading (grpc-js clients buffer everything they
 * receive, so they are never slow at the socket): its flow-control window closes and stays closed.
 */
function stalledWatch(t: { teardown(fn: () => unknown): void }, addr: string, first: Buffer) {
  const session = http2.connect(`http://${addr}`, { settings: { initialWindowSize: 65535 } });
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  const req = session.request({ ':method': 'POST', ':path': WATCH, 'content-type': 'application/grpc', te: 'trailers' });
  req.on('error', () => {});
  const frame = Buffer.alloc(5 + first.length);
  frame.writeUInt32BE(first.length, 1);
  first.copy(frame, 5);
  req.write(frame);
  req.pause();
  /** Resume reading; resolves with the first decoded update satisfying `pred`. */
  const resume = (pred: (u: WireUpdate) => boolean) =>
    new Promise<WireUpdate>((resolve) => {
      let buf = Buffer.alloc(0);
      req.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
          const len = buf.readUInt32BE(1);
          const u = loadControlProto().decodeUpdate(buf.subarray(5, 5 + len));
          buf = buf.subarray(5 + len);
          if (pred(u)) resolve(u);
        }
      });
      req.resume();
    });
  return { resume };
}

t.test('a client that does not read cannot grow master memory', async (t) => {
  const big = (n: number) => vip('big', '11.0.0.2', Array.from({ length: 800 }, (_, i) => [`10.1.${i >> 8}.${i & 255}`, 10000 + n] as [string, number]));
  const vips = new SettableSource('vips', [big(0)]);
  const server = await startServer(t, { sources: [vips], coalesceMs: 0 });
  const addr = `127.0.0.1:${server.port}`;
  const slow = stalledWatch(t, addr, enc(hello('slow')));
  const fast = await startClient(t, { agentId: 'fast', masters: [addr], consumers: [new RecordingConsumer('l4lb', ['vips'])] });
  await clientReaches(fast, (s) => s.applied === 1, 'fast at 1');

  const VERSIONS = 150;
  for (let n = 1; n <= VERSIONS; n++) {
    const next = new Promise<number>((r) => {
      const off = server.engine.onVersion((v) => {
        off();
        r(v);
      });
    });
    vips.set([big(n)]);
    await next;
  }
  const last = server.engine.version;
  await clientReaches(fast, (s) => s.applied === last, 'fast client converges while the slow one stalls');
  const stream = server.connectedStreams().find((s) => s.agentId === 'slow')!;
  const perUpdate = stream.sentBytes / stream.sentMessages;
  t.ok(perUpdate > 10_000, `updates are large (${Math.round(perUpdate)} bytes)`);
  t.ok(stream.writing, 'its update is blocked in flight by flow control');
  t.ok(stream.queued <= 1, `at most one message queued on the stalled stream (${stream.queued})`);
  t.ok(stream.sentMessages <= 8, `stalled stream was handed ${stream.sentMessages} updates for ${VERSIONS} versions`);

  // Once it reads again it gets one delta from what it was sent to the latest version.
  const got = await slow.resume((u) => u.version === last);
  t.equal(got.full, false, 'catches up with a delta');
  t.ok(got.from_version < last - 100, `one delta from ${got.from_version} to ${last}`);
});
