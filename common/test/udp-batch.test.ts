/**
 * The batching UDP socket (native recvmmsg/sendmmsg) on loopback: every datagram of a burst is
 * answered to its own sender, answers given after the batch still find their sender, an oversized
 * datagram is dropped and counted without losing the rest of its batch, an answer longer than a
 * slot still leaves whole, a throwing handler costs only its datagram, IPv6 works, a taken port
 * is refused with the address named, and a closed socket ignores late answers.
 */
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { loopbackBlock } from '../../test/lib/index.js';
import { BATCH, BatchUdpSocket, SLOT, nativeUdp, type BatchDropReason, type BatchHandler } from '../udp-batch.js';

const lb = loopbackBlock();

if (!nativeUdp()) {
  // The whole file is skipped (1..0 # SKIP), naming what is missing; the DNS servers then use dgram.
  const missing = process.env.SEXTANT_UDP_BATCH === '0'
    ? 'SEXTANT_UDP_BATCH=0 turns the native UDP module off'
    : 'native/build/Release/udpbatch.node (from native/udpbatch.c) is not built: npm run build';
  t.plan(0, `${missing}; the DNS servers use dgram`);
} else {
  run();
}

function server(t: Test, handler: BatchHandler, ip = lb(1)): { sock: BatchUdpSocket; drops: Record<string, number>; errors: unknown[] } {
  const drops: Record<string, number> = {};
  const errors: unknown[] = [];
  const sock = new BatchUdpSocket({
    ip,
    port: 0,
    handler,
    onDrop: (r: BatchDropReason, n: number) => (drops[r] = (drops[r] ?? 0) + n),
    onHandlerError: (e) => errors.push(e),
  });
  t.teardown(() => sock.close());
  return { sock, drops, errors };
}

async function client(t: Test, type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
  const c = dgram.createSocket(type);
  await new Promise<void>((r) => c.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', () => r()));
  t.teardown(() => c.close());
  return c;
}

/** Collect `n` datagrams on `c` (or fail after 5 s). */
function receive(c: dgram.Socket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} datagrams`)), 5000);
    c.on('message', (m) => {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

const upper = (m: Buffer) => Buffer.from(m.toString().toUpperCase());

function run(): void {
  t.test('a burst from several senders: each datagram answered to its own sender', async (t) => {
    const { sock } = server(t, (m, reply) => reply(upper(m)));
    const clients = await Promise.all([client(t), client(t), client(t)]);
    // More than one batch per sender, sent before the server's loop turns: recvmmsg sees many at once.
    const per = BATCH + 10;
    const waits = clients.map((c) => receive(c, per));
    clients.forEach((c, k) => {
      for (let i = 0; i < per; i++) c.send(`client${k}-msg${i}`, sock.port, sock.ip);
    });
    const got = await Promise.all(waits);
    for (const [k, msgs] of got.entries()) {
      t.same(
        msgs.map(String).sort(),
        Array.from({ length: per }, (_, i) => `CLIENT${k}-MSG${i}`).sort(),
        `client ${k} got exactly its own answers`,
      );
    }
  });

  t.test('answers given after the batch (as a forwarded query) reach their senders', async (t) => {
    let handled = 0;
    const { sock } = server(t, (m, reply) => {
      handled++;
      // Odd ones answer later, in reverse order: by then the receive buffer holds other senders' datagrams.
      const n = Number(m.toString().split('-')[1]);
      setTimeout(() => reply(upper(m)), n % 2 ? 40 - n : 0);
    });
    const a = await client(t);
    const b = await client(t);
    const wa = receive(a, 10);
    const wb = receive(b, 10);
    for (let i = 0; i < 10; i++) {
      a.send(`a-${i}`, sock.port, sock.ip);
      b.send(`b-${i}`, sock.port, sock.ip);
    }
    // Once those are read, more traffic overwrites the shared receive buffer from its first slot.
    for (let i = 0; handled < 20 && i < 500; i++) await new Promise((r) => setTimeout(r, 1));
    t.equal(handled, 20, 'the first batch was handled');
    const c = await client(t);
    const wc = receive(c, 30);
    for (let i = 0; i < 30; i++) c.send(`c-${i}`, sock.port, sock.ip);
    const [ga, gb] = await Promise.all([wa, wb, wc]);
    t.same(ga.map(String).sort(), Array.from({ length: 10 }, (_, i) => `A-${i}`).sort());
    t.same(gb.map(String).sort(), Array.from({ length: 10 }, (_, i) => `B-${i}`).sort());
  });

  t.test('a datagram over the slot size is dropped and counted; its batch neighbours are answered', async (t) => {
    const seen: number[] = [];
    const { sock, drops } = server(t, (m, reply) => {
      seen.push(m.length);
      reply(m.subarray(0, 4));
    });
    const c = await client(t);
    const w = receive(c, 2);
    c.send(Buffer.alloc(10, 1), sock.port, sock.ip);
    c.send(Buffer.alloc(SLOT + 100, 2), sock.port, sock.ip);
    c.send(Buffer.alloc(SLOT, 3), sock.port, sock.ip);
    const got = await w;
    t.same(seen.sort((x, y) => x - y), [10, SLOT], 'the handler saw the two that fit, whole');
    t.same(got.map((g) => g[0]).sort(), [1, 3]);
    t.equal(drops.oversized_query, 1);
  });

  t.test('an answer longer than a slot leaves whole', async (t) => {
    const big = Buffer.alloc(SLOT * 3 + 7, 9);
    const { sock, drops } = server(t, (_m, reply) => reply(big));
    const c = await client(t);
    const w = receive(c, 1);
    c.send('x', sock.port, sock.ip);
    const [got] = await w;
    t.equal(got!.length, big.length);
    t.ok(got!.equals(big));
    t.same(drops, {});
  });

  t.test('a throwing handler costs only its own datagram', async (t) => {
    const { sock, errors } = server(t, (m, reply) => {
      if (m.toString() === 'boom') throw new Error('handler bug');
      reply(upper(m));
    });
    const c = await client(t);
    const w = receive(c, 2);
    for (const m of ['one', 'boom', 'two']) c.send(m, sock.port, sock.ip);
    t.same((await w).map(String).sort(), ['ONE', 'TWO']);
    t.equal(errors.length, 1);
  });

  t.test('IPv6 on ::1', async (t) => {
    const { sock } = server(t, (m, reply) => reply(upper(m)), '::1');
    const c = await client(t, 'udp6');
    const w = receive(c, 1);
    c.send('six', sock.port, '::1');
    t.same((await w).map(String), ['SIX']);
  });

  t.test('a port in use is refused, naming the address', async (t) => {
    const { sock } = server(t, () => undefined);
    t.throws(() => new BatchUdpSocket({ ip: sock.ip, port: sock.port, handler: () => undefined }), new RegExp(`cannot bind ${sock.ip.replace(/\./g, '\\.')}:${sock.port}: bind: Address already in use`));
  });

  t.test('after close a late answer is ignored and the port is free again', async (t) => {
    let late: ((b: Buffer | undefined) => void) | undefined;
    const ip = lb(2);
    const s1 = new BatchUdpSocket({ ip, port: 0, handler: (_m, reply) => (late = reply) });
    const port = s1.port;
    const c = await client(t);
    c.send('q', port, ip);
    for (let i = 0; !late && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
    t.ok(late, 'the query arrived');
    s1.close();
    s1.close();
    t.doesNotThrow(() => late!(Buffer.from('too late')));
    const s2 = new BatchUdpSocket({ ip, port, handler: () => undefined });
    t.equal(s2.port, port);
    s2.close();
  });
}
