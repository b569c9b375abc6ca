// Bad input: 100,000+ random and mutated packets never crash the server or stop it answering;
// a truncated TCP frame closes only that connection.
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import { createLogger } from '../../../common/log.js';
import { DnsServer } from '../server.js';
import { startMesosDns } from './harness.js';
import { fuzzPacket, rng, seedQueries } from './fuzzgen.js';
import { parseQuery } from '../../wire/index.js';

const PACKETS = 100_000;

function udpQuery(ip: string, port: number, pkt: Buffer, timeoutMs = 2000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no UDP answer'));
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(pkt, port, ip);
  });
}

/** As a stub resolver does: a few tries, so a query dropped while the socket's buffer is full of the burst is sent again. */
async function udpQueryRetrying(ip: string, port: number, pkt: Buffer, tries = 5): Promise<Buffer> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await udpQuery(ip, port, pkt);
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`no UDP answer in ${tries} tries after the burst: ${String(last)}`);
}

t.test(`${PACKETS} fuzzed packets through the handler, then real UDP answers`, async (t) => {
  const { dns, ip, port } = await startMesosDns(t);
  const server = new DnsServer({
    host: ip, port: 0, domain: 'mesos', externalOn: false, setTruncateBit: true,
    answers: () => (dns as any).current?.answers, metrics: dns.metrics, log: createLogger('fuzz'),
  });
  const r = rng(42);
  const seeds = seedQueries();
  let replies = 0;
  for (let i = 0; i < PACKETS; i++) {
    const pkt = fuzzPacket(i, r, seeds);
    server.handle(pkt, i % 2 === 0, (out) => {
      replies++;
      if (out.length < 12) throw new Error(`short reply to packet ${i}`);
    });
  }
  t.ok(replies > PACKETS / 4, `${replies} replies`);
  // and a burst over the real socket, then a good query still answers
  const s = dgram.createSocket('udp4');
  const BURST = 5000;
  await new Promise<void>((res, rej) => {
    let sent = 0;
    for (let i = 0; i < BURST; i++) {
      s.send(fuzzPacket(i, r, seeds), port, ip, (err) => {
        if (err) rej(err);
        else if (++sent === BURST) res();
      });
    }
  });
  s.close();
  const good = seedQueries()[0]!;
  const ans = await udpQueryRetrying(ip, port, good);
  t.equal(ans.readUInt16BE(0), 0x1234);
  t.equal(ans[3]! & 0xf, 0, 'NOERROR after the fuzz burst');
  t.ok(ans.readUInt16BE(6) > 0, 'has answers');
});

t.test('a truncated TCP frame closes only that connection', async (t) => {
  const { ip, port } = await startMesosDns(t);
  const good = seedQueries()[0]!;
  const frame = Buffer.concat([Buffer.from([0, good.length]), good]);
  const ok = net.connect({ host: ip, port });
  await new Promise((r) => ok.once('connect', r));
  const bad = net.connect({ host: ip, port });
  await new Promise((r) => bad.once('connect', r));
  const badClosed = new Promise((r) => bad.once('close', r));
  bad.end(frame.subarray(0, 10));
  await badClosed;
  const got = new Promise<Buffer>((r) => ok.once('data', r));
  ok.write(frame);
  const reply = await got;
  t.equal(reply.readUInt16BE(0), reply.length - 2, 'framed reply on the good connection');
  t.equal(parseQuery(Buffer.concat([good])).qname, 'liquor-store.marathon.mesos');
  ok.destroy();
  const again = net.connect({ host: ip, port });
  await new Promise((r) => again.once('connect', r));
  const got2 = new Promise<Buffer>((r) => again.once('data', r));
  again.write(frame);
  t.ok((await got2).length > 14, 'new connections still served');
  again.destroy();
});
