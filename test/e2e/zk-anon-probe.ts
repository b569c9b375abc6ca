/**
 * #30 from the attacker's side: an anonymous ZooKeeper client (node-zookeeper-client, no
 * credential) run inside a network namespace (another "host"), trying to read and rewrite the
 * masters' records and the election, and the four-letter words that would list sessions. Returns
 * each attempt's outcome: `ok`, ZooKeeper's error name (`NO_AUTH`, ...), or the 4lw answer.
 */
import { createRequire } from 'node:module';
import type { Netns } from '../lib/index.js';

const zkClient = createRequire(import.meta.url).resolve('node-zookeeper-client');

export interface ZkProbe {
  /** Outcome of each operation by name (`getData /sextant`: `NO_AUTH`). */
  ops: Record<string, string>;
  /** `/mesos`'s children as listed anonymously, and the data of the lowest (the leader). */
  election: string[];
  leader?: string;
  /** The answers to `stat` and `dump` (both off the whitelist). */
  words: Record<string, string>;
}

/** The probe as an ES module source (run with `node --input-type=module -e`). */
function script(connect: string, server: { host: string; port: number }): string {
  return `
import { createRequire } from 'node:module';
import net from 'node:net';
const zk = createRequire(import.meta.url)(${JSON.stringify(zkClient)});
const c = zk.createClient(${JSON.stringify(connect)}, { sessionTimeout: 4000, retries: 0 });
const name = (e) => (e ? (e.name || String(e)) : 'ok');
const run = (fn) => new Promise((r) => fn((e, v) => r([name(e), v])));
const word = (w) => new Promise((r) => { let out = ''; const s = net.connect(${JSON.stringify(server)}); s.setTimeout(5000, () => (s.destroy(), r(out))); s.on('connect', () => s.write(w)); s.on('data', (d) => (out += d)); s.on('end', () => r(out)); s.on('error', (e) => r('error ' + e.code)); });
const timer = setTimeout(() => { console.log(JSON.stringify({ error: 'no ZooKeeper session in 30 s' })); process.exit(3); }, 30000);
c.once('connected', async () => {
  const ops = {};
  const open = zk.ACL.OPEN_ACL_UNSAFE;
  const evil = Buffer.from('{"evil":true}');
  ops['getData /sextant/kv'] = (await run((cb) => c.getData('/sextant/kv', cb)))[0];
  ops['getChildren /sextant/kv'] = (await run((cb) => c.getChildren('/sextant/kv', cb)))[0];
  ops['getChildren /sextant'] = (await run((cb) => c.getChildren('/sextant', cb)))[0];
  ops['setData /sextant'] = (await run((cb) => c.setData('/sextant', evil, -1, cb)))[0];
  ops['create /sextant/kv/evil'] = (await run((cb) => c.create('/sextant/kv/evil', evil, open, zk.CreateMode.PERSISTENT, cb)))[0];
  ops['setACL /sextant'] = (await run((cb) => c.setACL('/sextant', open, -1, cb)))[0];
  ops['create /evil'] = (await run((cb) => c.create('/evil', evil, open, zk.CreateMode.PERSISTENT, cb)))[0];
  ops['create /mesos/json.info_0000000000'] = (await run((cb) => c.create('/mesos/json.info_0000000000', evil, open, zk.CreateMode.PERSISTENT, cb)))[0];
  const [le, kids] = await run((cb) => c.getChildren('/mesos', cb));
  ops['getChildren /mesos'] = le;
  const election = (kids || []).filter((k) => k.startsWith('json.info_')).sort();
  let leader;
  if (election[0]) {
    const [de, data] = await run((cb) => c.getData('/mesos/' + election[0], cb));
    ops['getData /mesos/<leader>'] = de;
    leader = data ? data.toString() : undefined;
    ops['delete /mesos/<leader>'] = (await run((cb) => c.remove('/mesos/' + election[0], -1, cb)))[0];
  }
  const words = { stat: await word('stat'), dump: await word('dump') };
  clearTimeout(timer);
  console.log(JSON.stringify({ ops, election, leader, words }));
  c.close();
  process.exit(0);
});
c.connect();
`;
}

/** Run the probe in `ns` against the ensemble `connect` (`ip:port,...`); `server` is one server for the 4lw. */
export async function zkAnonProbe(ns: Netns, connect: string, server: { host: string; port: number }): Promise<ZkProbe> {
  const out = await ns.exec(process.execPath, ['--input-type=module', '-e', script(connect, server)], { timeoutMs: 60_000 });
  const line = out.trim().split('\n').pop() ?? '';
  const r = JSON.parse(line) as ZkProbe & { error?: string };
  if (r.error) throw new Error(`ZooKeeper probe in ${ns.name}: ${r.error}`);
  return r;
}
