/**
 * The nftables VIP metrics' bookkeeping without a kernel (a fake `nft`): which VIP a flow's counts
 * go to, a removed backend's counts kept for `retainMs` then deleted, and what is held per flow
 * (issue #26: nothing per programmed backend that never counted). Also the bounded labels' memory:
 * overflowed pairs are not held as strings.
 */
import t from 'tap';
import { FakeClock } from '../../../common/clock.js';
import type { Service } from '../../driver.js';
import { NftCounters } from '../nft-counters.js';
import { BoundedLabels, OTHER } from '../labels.js';
import { PairHashes } from '../pair-hashes.js';

const svc = (vip: string, port: number, backends: string[]): Service => ({
  key: `tcp/${vip}:${port}`,
  vip,
  port,
  protocol: 'tcp',
  backends: backends.map((b) => ({ ip: b.slice(0, b.indexOf(':')), port: Number(b.slice(b.indexOf(':') + 1)), weight: 1 })),
});

/** A fake nft: `list` answers the elements set now (conns4 counters), `-f -` records the deletes. */
function fakeNft() {
  const state = { elems: [] as { vip: string; backend: string; packets: number }[], deleted: [] as string[] };
  const run = async (args: string[], input?: string): Promise<string> => {
    if (args[0] === '-f') {
      for (const line of (input ?? '').split('\n')) if (line.startsWith('delete element')) state.deleted.push(line);
      const gone = new Set(state.deleted.map((l) => /\{ (.*) \}/.exec(l)![1]));
      state.elems = state.elems.filter((e) => !gone.has(`${e.vip} . tcp . ${e.backend.replace(':', ' . ')}`));
      return '';
    }
    const elem = state.elems.map((e) => {
      const [ip, port] = e.backend.split(':');
      return { elem: { val: { concat: [e.vip, 'tcp', ip, Number(port)] }, counter: { packets: e.packets, bytes: 0 } } };
    });
    return JSON.stringify({ nftables: [{ set: { name: 'conns4', elem } }] });
  };
  return { state, run };
}

const counts = (m: Awaited<ReturnType<NftCounters['read']>>) => Object.fromEntries(m.vips.flatMap((v) => v.backends.map((b) => [`${v.vip} ${b.backend}`, b.connections])));

t.test('counts go to the lowest port of a VIP sending to the backend; idle backends hold nothing', async (t) => {
  const clock = new FakeClock();
  const nft = fakeNft();
  const c = new NftCounters(nft.run, 'sx', { clock, retainMs: 60_000 });
  const live = [svc('11.0.0.1', 80, ['10.0.0.1:7000', '10.0.0.2:7000']), svc('11.0.0.1', 81, ['10.0.0.1:7000']), svc('11.0.0.2', 80, ['10.0.0.3:7000'])];
  let m = await c.read(live);
  t.same(counts(m), { '11.0.0.1:80/tcp 10.0.0.1:7000': 0, '11.0.0.1:80/tcp 10.0.0.2:7000': 0, '11.0.0.1:81/tcp 10.0.0.1:7000': 0, '11.0.0.2:80/tcp 10.0.0.3:7000': 0 }, 'every programmed backend reported, at zero');
  t.equal(c.heldFlows, 0, 'no flow held while none counted');
  nft.state.elems.push({ vip: '11.0.0.1', backend: '10.0.0.1:7000', packets: 4 });
  clock.advance(1000);
  m = await c.read(live);
  t.equal(counts(m)['11.0.0.1:80/tcp 10.0.0.1:7000'], 4, 'two ports to one backend: counted on the lower');
  t.equal(counts(m)['11.0.0.1:81/tcp 10.0.0.1:7000'], 0);
  t.equal(c.heldFlows, 1, 'one flow held: the one that counted');
  // Port 80 goes: the flow now belongs to port 81, which carries on with the same kernel element.
  clock.advance(1000);
  m = await c.read([live[1]!, live[2]!]);
  t.equal(counts(m)['11.0.0.1:81/tcp 10.0.0.1:7000'], 4, 'the flow moves to the VIP port still programmed');
  t.same(nft.state.deleted, [], 'nothing deleted');
});

t.test('a removed backend: counts kept for retainMs from when it was last programmed, then deleted', async (t) => {
  const clock = new FakeClock();
  const nft = fakeNft();
  const c = new NftCounters(nft.run, 'sx', { clock, retainMs: 60_000 });
  const both = [svc('11.0.0.1', 80, ['10.0.0.1:7000', '10.0.0.2:7000'])];
  const one = [svc('11.0.0.1', 80, ['10.0.0.1:7000'])];
  await c.read(both);
  // 10.0.0.2 is removed; its connections made before that are counted after (no count at the last read).
  nft.state.elems.push({ vip: '11.0.0.1', backend: '10.0.0.2:7000', packets: 2 });
  clock.advance(30_000);
  let m = await c.read(one);
  t.equal(counts(m)['11.0.0.1:80/tcp 10.0.0.2:7000'], 2, 'counts of a backend programmed at the last read are reported');
  clock.advance(20_000);
  m = await c.read(one);
  t.equal(counts(m)['11.0.0.1:80/tcp 10.0.0.2:7000'], 2, 'still within retainMs of when it was last programmed');
  t.same(nft.state.deleted, []);
  clock.advance(20_000); // 70 s after the last read that had it programmed
  m = await c.read(one);
  t.equal(counts(m)['11.0.0.1:80/tcp 10.0.0.2:7000'], undefined, 'past retainMs: not reported');
  t.same(nft.state.deleted, ['delete element inet sx_metrics conns4 { 11.0.0.1 . tcp . 10.0.0.2 . 7000 }'], 'and its element deleted');
  t.equal(c.heldFlows, 0, 'nothing held for it any more');
  // A flow that never belonged to a programmed VIP (a CNI port mapping) is deleted at once.
  nft.state.elems.push({ vip: '10.9.9.9', backend: '10.0.0.5:80', packets: 1 });
  m = await c.read(one);
  t.equal(nft.state.deleted.length, 2, 'a flow of no VIP is deleted');
});

t.test('bounded labels hold overflowed pairs as hashes, not strings', async (t) => {
  const l = new BoundedLabels(10);
  const pairs = Array.from({ length: 30_000 }, (_, i) => ({ vip: `11.0.${i >> 8}.${i & 255}:80/tcp`, backend: `10.0.0.${i % 3}:${31000 + (i % 1000)}` }));
  const first = l.assign(pairs);
  t.equal(l.size, 10, 'the cap');
  t.equal(l.overflowed, 29_990, 'every other pair remembered as overflowed');
  t.same(first.slice(0, 11).map((x) => x.backend === OTHER), [...Array(10).fill(false), true]);
  const again = l.assign([...pairs].reverse());
  t.same([...again].reverse(), first, 'the same labels in any order');
  t.equal(l.assign(pairs.slice(0, 5)).filter((x) => x.backend !== OTHER).length, 5, 'pairs gone free their places');
  t.equal(l.overflowed, 0);
});

t.test('pair hashes: values by string, a table sized for what it gets', async (t) => {
  const h = new PairHashes(1000);
  for (let i = 0; i < 1000; i++) h.set(`k${i}`, 1 + (i % 2));
  t.equal(h.size, 1000);
  let right = 0;
  for (let i = 0; i < 1000; i++) if (h.get(`k${i}`) === 1 + (i % 2)) right++;
  t.equal(right, 1000, 'every value back');
  t.equal(h.get('k1000'), 0, 'absent: 0');
  h.set('k0', 2);
  t.equal(h.get('k0'), 2, 'set again: replaced');
  t.equal(h.size, 1000);
  t.throws(() => h.set('x', 0), RangeError, 'values are 1-255');
  const small = new PairHashes(1);
  small.set('a', 1);
  t.throws(() => {
    for (let i = 0; i < 10; i++) small.set(`b${i}`, 1);
  }, /more than 4 strings/, 'past its size: a clear error');
});
