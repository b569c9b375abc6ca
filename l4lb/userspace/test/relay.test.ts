/**
 * The userspace TCP relay on loopback: bytes arrive intact both ways under back-pressure (the
 * relay's read buffers are reused only once the writes pointing into them are flushed), buffers
 * grow and shrink with the traffic, and a refused backend is skipped without losing the client's
 * first bytes. Runs on the native relay where it is built, and on net.Socket (js-relay.test.ts).
 */
import t from 'tap';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { createLogger } from '../../../common/log.js';
import type { Service } from '../../driver.js';
import { ServiceProxy } from '../service.js';
import { UserspaceDriver } from '../driver.js';
import { freeBuffers, LARGE, Leg, SMALL } from '../relay.js';
import { nativeRelay } from '../native-relay.js';

const lb = loopbackBlock();
const sha = (b: Buffer | Buffer[]) => createHash('sha256').update(Array.isArray(b) ? Buffer.concat(b) : b).digest('hex');

async function proxyFor(t: Tap, backends: Array<{ ip: string; port: number }>, unreachable: string[] = []): Promise<{ host: string; port: number }> {
  const host = lb(10);
  const port = await freePort(host);
  const service: Service = { key: `tcp/${host}:${port}`, vip: host, port, protocol: 'tcp', backends: backends.map((b) => ({ ...b, weight: 1 })) };
  const p = new ServiceProxy(service, { host, port }, { balance: 'leastconn', log: createLogger('relay-test'), connectTimeoutMs: 2000, udpIdleMs: 1000, onUnreachable: (b) => unreachable.push(b) });
  await p.start();
  t.teardown(() => p.stop());
  return { host, port };
}
type Tap = { teardown(fn: () => unknown): void };

/** Write `data` in 64 KiB pieces; `onFull` is called the first time the socket refuses more (the whole path is backed up). */
function writeAll(sock: net.Socket, data: Buffer, onFull: () => void): void {
  let off = 0;
  let full = false;
  const more = () => {
    while (off < data.length) {
      const ok = sock.write(data.subarray(off, (off += LARGE)));
      if (!ok) {
        if (!full) (full = true), onFull();
        sock.once('drain', more);
        return;
      }
    }
    sock.end();
  };
  more();
}

/** Collect everything `sock` sends until it ends; reading starts paused until `go` resolves. */
function collect(sock: net.Socket, go: Promise<void>): Promise<Buffer[]> {
  const got: Buffer[] = [];
  sock.pause();
  void go.then(() => sock.resume());
  sock.on('data', (d: Buffer) => got.push(d));
  return new Promise((res, rej) => (sock.on('end', () => res(got)), sock.on('error', rej)));
}

t.test('bytes arrive intact both ways while the far side is not reading', async (t) => {
  const size = 24 * 1024 * 1024; // more than every socket buffer on the path together
  const up = randomBytes(size);
  const down = randomBytes(size);
  const bport = await freePort(lb(20));
  let clientFull!: () => void;
  const clientStalled = new Promise<void>((r) => (clientFull = r));
  let backendFull!: () => void;
  const backendStalled = new Promise<void>((r) => (backendFull = r));
  let atBackend!: (got: Promise<Buffer[]>) => void;
  const backendGot = new Promise<Buffer[]>((r) => (atBackend = r));
  // Both ends half-close (as the proxy does): a FIN ends one direction, the other keeps going.
  const server = net.createServer({ allowHalfOpen: true }, (c) => {
    // The backend reads nothing until the client's writes back up; it sends `down` meanwhile.
    atBackend(collect(c, clientStalled));
    writeAll(c, down, backendFull);
  });
  server.listen(bport, lb(20));
  t.teardown(() => server.close());
  const vip = await proxyFor(t, [{ ip: lb(20), port: bport }]);
  const native = nativeRelay();
  const free0 = freeBuffers();
  const open0 = native?.stats().connections ?? 0;
  const client = net.connect({ ...vip, allowHalfOpen: true });
  const atClient = collect(client, backendStalled);
  // Written once connected: before that Node only queues, and a refused write means nothing.
  client.once('connect', () => writeAll(client, up, clientFull));
  const [gotDown, gotUp] = await Promise.all([atClient, backendGot]);
  t.equal(Buffer.concat(gotUp).length, size, 'client → backend: every byte');
  t.equal(sha(gotUp), sha(up), 'client → backend: same bytes in the same order');
  t.equal(Buffer.concat(gotDown).length, size, 'backend → client: every byte');
  t.equal(sha(gotDown), sha(down), 'backend → client: same bytes in the same order');
  // Both directions ended: the sockets close by themselves.
  if (!client.closed) await new Promise((r) => client.on('close', r));
  if (native) {
    // The C relay closes both sockets once both directions ended.
    for (let i = 0; i < 200 && native.stats().connections > open0; i++) await new Promise((r) => setTimeout(r, 5));
    t.equal(native.stats().connections, open0, 'native relay: the connection is closed on both sides');
    return;
  }
  // Both legs ran on large buffers; once both sockets close they go back to the free list.
  for (let i = 0; i < 100 && freeBuffers() < free0 + 2; i++) await new Promise((r) => setImmediate(r));
  t.equal(freeBuffers(), free0 + 2, 'both large buffers returned when the connection closed');
});

t.test('a refused backend is skipped and the next one gets the first bytes', async (t) => {
  const dead = { ip: lb(21), port: await freePort(lb(21)) };
  const live = { ip: lb(22), port: await freePort(lb(22)) };
  const server = net.createServer((c) => c.once('data', (d) => c.end(`got ${d.toString()}`)));
  server.listen(live.port, live.ip);
  t.teardown(() => server.close());
  const unreachable: string[] = [];
  const vip = await proxyFor(t, [dead, live], unreachable);
  for (let i = 0; i < 4; i++) {
    const reply = await new Promise<string>((res, rej) => {
      const c = net.connect(vip, () => c.write(`hello ${i}`));
      let s = '';
      c.on('data', (d) => (s += d.toString()));
      c.on('end', () => res(s));
      c.on('error', rej);
    });
    t.equal(reply, `got hello ${i}`, `connection ${i}: answered by the live backend with the first bytes`);
  }
  t.ok(unreachable.length >= 1 && unreachable.every((u) => u === `${dead.ip}:${dead.port}`), `dead backend reported: ${unreachable.join(',')}`);
});

t.test('a leg grows its buffer after a full read, shrinks after a small one, stops reading while a write is queued', async (t) => {
  let queued = 0;
  const written: Buffer[] = [];
  let flush: (() => void) | undefined;
  let resumed = 0;
  const dst = {
    write: (b: Buffer, cb: () => void) => {
      written.push(Buffer.from(b));
      if (queued) flush = cb;
      else queueMicrotask(cb);
      return true;
    },
    get writableLength() {
      return queued;
    },
  };
  const leg = new Leg();
  leg.dst = dst as unknown as net.Socket;
  leg.src = { resume: () => resumed++ } as unknown as net.Socket;
  let buf = leg.onread.buffer();
  t.equal(buf.length, SMALL, 'starts small');
  t.equal(leg.onread.callback(SMALL, buf.fill(1)), true, 'flushed write: keep reading');
  buf = leg.onread.buffer();
  t.equal(buf.length, LARGE, 'a read that filled the buffer: large');
  queued = 10;
  t.equal(leg.onread.callback(LARGE, buf.fill(2)), false, 'queued write: stop reading');
  t.equal(leg.onread.buffer(), buf, 'the queued write still points into the buffer: kept');
  t.equal(resumed, 0);
  queued = 0;
  flush!();
  t.equal(resumed, 1, 'resumed once the write flushed');
  const free0 = freeBuffers();
  t.equal(leg.onread.callback(100, buf.fill(3)), true);
  t.equal(leg.onread.buffer().length, SMALL, 'a small read: back to small');
  t.equal(freeBuffers(), free0 + 1, 'the large one is back on the free list');
  t.same(
    written.map((w) => [w.length, w[0]]),
    [
      [SMALL, 1],
      [LARGE, 2],
      [100, 3],
    ],
  );
});

t.test('removing a VIP leaves its open connection running and does not hold up the next apply', async (t) => {
  const bport = await freePort(lb(23));
  const server = net.createServer((c) => c.on('data', (d) => c.write(d)));
  server.listen(bport, lb(23));
  t.teardown(() => server.close());
  const host = lb(11);
  const port = await freePort(host);
  const svc = (p: number): Service => ({ key: `tcp/${host}:${p}`, vip: host, port: p, protocol: 'tcp', backends: [{ ip: lb(23), port: bport, weight: 1 }] });
  const d = new UserspaceDriver({ listenAddress: (s) => ({ host, port: s.port }), log: createLogger('relay-test') });
  await d.start();
  t.teardown(() => d.stop());
  await d.apply([svc(port)]);
  const c = net.connect({ host, port });
  const echo = (m: string) => new Promise<string>((res) => (c.once('data', (b) => res(b.toString())), c.write(m)));
  t.equal(await echo('one'), 'one', 'connected through the VIP');
  const port2 = await freePort(host);
  await d.apply([svc(port2)]); // resolves although the connection to the removed VIP is still open
  t.same((await d.dump()).map((s) => s.port), [port2], 'the removed VIP is gone, the new one is there');
  t.equal(await echo('two'), 'two', 'the open connection still works (drain)');
  await t.rejects(new Promise<void>((res, rej) => net.connect({ host, port }, () => res()).on('error', rej)), 'no new connection to the removed VIP');
  c.destroy();
});
