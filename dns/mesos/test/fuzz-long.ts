/**
 * Longer fuzz run: `npx tsx dns/mesos/test/fuzz-long.ts [packets=1000000] [seed=1]`. Starts
 * Mesos-DNS on a loopback address with the fixture state, sends random and mutated packets through the
 * handler and over UDP, and checks every 50,000 packets that a good query is still answered.
 */
import dgram from 'node:dgram';
import { startMesosDns } from './harness.js';
import { fuzzPacket, rng, seedQueries } from './fuzzgen.js';

const total = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 1);
const teardowns: (() => unknown)[] = [];
const { ip, port } = await startMesosDns({ teardown: (f) => teardowns.push(f) });
const r = rng(seed);
const seeds = seedQueries();
const sock = dgram.createSocket('udp4');
const good = seeds[0]!;
const check = () =>
  new Promise<void>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => reject(new Error('server stopped answering')), 3000);
    s.on('message', () => {
      clearTimeout(timer);
      s.close();
      resolve();
    });
    s.send(good, port, ip);
  });
const t0 = Date.now();
for (let i = 0; i < total; i++) {
  sock.send(fuzzPacket(i, r, seeds), port, ip);
  if (i % 1000 === 999) await new Promise((res) => setImmediate(res));
  if (i % 50_000 === 49_999) {
    await check();
    process.stdout.write(`${i + 1} packets, still answering (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
}
await check();
sock.close();
for (const f of teardowns.reverse()) await f();
process.stdout.write(`done: ${total} packets, seed ${seed}, server alive\n`);
