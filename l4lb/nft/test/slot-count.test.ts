/**
 * The slot-count encoding on a real kernel (throwaway namespaces): a weight change and a VIP added
 * write data elements only (the batches the driver sent are decoded: no element carries a verdict,
 * the service map gets the new slot count), so the kernel has no verdict map to validate at commit;
 * traffic follows the new weights (v4 and v6); the packet's mark is the same after the services
 * rule as before it; nft lists the table (text and JSON), and a flushed ruleset is rebuilt.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Service } from '../../driver.js';
import { normalize } from '../../services.js';
import { NftablesDriver, type NftWrite } from '../driver.js';
import { nativeNfnetlink } from '../netlink.js';
import { attrs, nlMessages } from '../decode.js';
import { DATA_VALUE, DATA_VERDICT, ELEM_DATA } from '../encode.js';
import { bridgeNamespaces, createNetns, requireRoot, requireTools, spawnTracked, type Netns } from '../../../test/lib/index.js';
import { createLogger } from '../../../common/log.js';

const log = createLogger('l4lb-test');
const fixture = (f: string) => fileURLToPath(new URL(`../../test/fixtures/${f}`, import.meta.url));
const BPORT = 7000;
const NFT_MSG_NEWSETELEM = (10 << 8) | 12;
const LIST_SET = 2;
const LIST_ELEMENTS = 3;

function requireNative(): void {
  if (!nativeNfnetlink()) throw new Error('the native module nfnetlink is not built (native/build/Release/nfnetlink.node): run `npm run build` (needs make, a C compiler and python3)');
}

/** Every element a batch adds: its set, whether its data is a verdict, and a u32 data value (host order) if it has one. */
function addedElements(batch: Buffer): { set: string; verdict: boolean; u32?: number }[] {
  const out: { set: string; verdict: boolean; u32?: number }[] = [];
  for (const m of nlMessages(batch)) {
    if (m.type !== NFT_MSG_NEWSETELEM) continue;
    let set = '';
    for (const [type, v] of attrs(m.body, 4)) if (type === LIST_SET) set = v.toString('utf8').replace(/\0+$/, '');
    for (const [type, list] of attrs(m.body, 4)) {
      if (type !== LIST_ELEMENTS) continue;
      for (const [, el] of attrs(list, 0)) {
        let verdict = false;
        let u32: number | undefined;
        for (const [t2, nested] of attrs(el, 0)) {
          if (t2 !== ELEM_DATA) continue;
          for (const [t3, v] of attrs(nested, 0)) {
            if (t3 === DATA_VERDICT) verdict = true;
            if (t3 === DATA_VALUE && v.length === 4) u32 = v.readUInt32LE(0);
          }
        }
        out.push({ set, verdict, u32 });
      }
    }
  }
  return out;
}

const svc = (vip: string, backends: [string, number][]): Service => ({ key: '', vip, port: 80, protocol: 'tcp', backends: backends.map(([ip, weight]) => ({ ip, port: BPORT, weight })) });

async function traffic(ns: Netns, host: string, n: number): Promise<{ counts: Record<string, number>; errors: number }> {
  const out = await ns.exec('node', [fixture('client.mjs'), 'tcp', host, '80', String(n)], { timeoutMs: 60_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

t.test('a weight change and a VIP added write no verdict-map element; traffic follows the new weights; the mark is kept', async (t) => {
  requireRoot();
  requireTools('nft', 'ip', 'node');
  requireNative();
  const nodes = [await createNetns(t, 'sc'), await createNetns(t, 'sc'), await createNetns(t, 'sc')];
  const [n1, n2, n3] = nodes as [Netns, Netns, Netns];
  const { addrs } = await bridgeNamespaces(t, nodes, '10.78.0');
  const [a1, a2] = addrs as [string, string, string];
  const v6 = (i: number) => `fd78::${i}`;
  for (let i = 0; i < 3; i++) await nodes[i]!.exec('ip', ['-batch', '-'], { input: `addr add ${v6(i + 1)}/64 dev eth0 nodad\n` });
  await n3.ip('route', 'add', 'default', 'dev', 'eth0');
  await n3.exec('ip', ['-6', 'route', 'add', 'default', 'dev', 'eth0']);
  for (const [ns, name] of [[n1, 'n1'], [n2, 'n2']] as const) {
    const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, 'node', fixture('server.mjs'), name, String(BPORT)]);
    await p.waitFor(/ready/);
  }
  const writes: NftWrite[] = [];
  const d = new NftablesDriver({ netns: n3.name, log, onWrite: (w) => writes.push(w) });
  t.teardown(() => d.stop());
  await d.start();
  t.equal(d.svcData, 'count', 'the driver uses the slot-count encoding');

  let want = normalize([svc('11.0.0.1', [[a1, 1], [a2, 1]]), svc('fd01:c::1', [[v6(1), 1], [v6(2), 1]])]);
  await d.apply(want);

  // A weight change, v4 and v6: 1/1 -> 3/1.
  writes.length = 0;
  want = normalize([svc('11.0.0.1', [[a1, 3], [a2, 1]]), svc('fd01:c::1', [[v6(1), 3], [v6(2), 1]])]);
  t.match(await d.apply(want), { changed: 2 });
  t.ok(writes.length > 0 && writes.every((w) => w.via === 'netlink' && w.batch), 'the change went over netlink');
  let added = writes.flatMap((w) => addedElements(w.batch!));
  t.same(added.filter((e) => e.verdict), [], 'weight change: no element with a verdict was sent');
  t.same(added.filter((e) => e.set === 'svc4' || e.set === 'svc6').map((e) => [e.set, e.u32]).sort(), [['svc4', 4], ['svc6', 4]], 'the service maps got the new slot count, 4');
  for (const host of ['11.0.0.1', 'fd01:c::1']) {
    const { counts, errors } = await traffic(n3, host, 200);
    t.equal(errors, 0, `${host}: no errors`);
    t.ok((counts.n1 ?? 0) >= 115 && (counts.n2 ?? 0) >= 20, `${host}: weights 3:1 give about 150:50 of 200: ${JSON.stringify(counts)}`);
  }

  // A VIP added, each family.
  writes.length = 0;
  want = normalize([...want, svc('11.0.0.2', [[a2, 1]]), svc('fd01:c::2', [[v6(2), 1]])]);
  t.match(await d.apply(want), { added: 2 });
  added = writes.flatMap((w) => addedElements(w.batch!));
  t.ok(added.length >= 4, 'the add wrote elements');
  t.same(added.filter((e) => e.verdict), [], 'VIP added: no element with a verdict was sent');
  for (const host of ['11.0.0.2', 'fd01:c::2']) t.same(await traffic(n3, host, 10), { counts: { n2: 10 }, errors: 0 }, `${host}: every connection to its one backend`);

  // All backends draining: count 0, rejected (no verdict element either).
  writes.length = 0;
  want = want.map((s) => (s.vip === '11.0.0.2' ? { ...s, backends: s.backends.map((b) => ({ ...b, weight: 0 })) } : s));
  await d.apply(want);
  t.same(writes.flatMap((w) => addedElements(w.batch!)).filter((e) => e.verdict), [], 'drained: no verdict element');
  t.same(await traffic(n3, '11.0.0.2', 3), { counts: {}, errors: 3 }, 'a VIP whose backends all drain refuses connections');

  // The mark a packet carries before the services rule is the one it carries after it.
  await n3.exec('nft', ['-f', '-'], {
    input: `table inet sx_marktest {
  chain before {
    type filter hook output priority -200; policy accept;
    ip daddr 11.0.0.1 meta mark set 0x1234
  }
  chain after {
    type filter hook output priority 0; policy accept;
    tcp dport ${BPORT} meta mark 0x1234 counter comment "kept"
    tcp dport ${BPORT} meta mark != 0x1234 counter comment "changed"
  }
}
`,
  });
  t.teardown(() => n3.exec('nft', ['delete', 'table', 'inet', 'sx_marktest']).catch(() => undefined));
  t.equal((await traffic(n3, '11.0.0.1', 20)).errors, 0);
  const marks = JSON.parse(await n3.exec('nft', ['-j', 'list', 'table', 'inet', 'sx_marktest'])) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
  const packets = (c: string) => marks.nftables.flatMap((o) => (o.rule?.comment === c ? o.rule.expr : [])).reduce((n, e) => n + (e.counter?.packets ?? 0), 0);
  t.ok(packets('kept') >= 20, `packets to the backend keep their mark (${packets('kept')})`);
  t.equal(packets('changed'), 0, 'no packet to the backend had its mark changed');

  // nft lists the table (text and JSON); a flushed ruleset is rebuilt by a reconcile.
  const text = await n3.exec('nft', ['list', 'table', 'inet', d.table]);
  t.match(text, /meta mark set ip daddr \. meta l4proto \. th dport map @svc4 meta mark set meta mark meta mark vmap @picks comment "vmap4"/, 'nft lists the v4 rule');
  t.match(text, /map @svc6 .* vmap @picks comment "vmap6"/, 'and the v6 one');
  t.ok(JSON.parse(await n3.exec('nft', ['-j', 'list', 'ruleset'])).nftables.length > 0, 'nft -j list ruleset parses');
  t.same(await d.drift(want), [], 'no drift');
  await n3.exec('nft', ['flush', 'ruleset']);
  t.match(await d.drift(want), [/missing/]);
  await d.reconcile(want);
  t.same(await d.drift(want), [], 'rebuilt');
  t.same(await d.dump(), want, 'the kernel holds the desired services again');
  t.same(await traffic(n3, 'fd01:c::2', 5), { counts: { n2: 5 }, errors: 0 }, 'traffic flows after the rebuild');
});
