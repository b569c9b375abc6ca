/**
 * The element encoder and the byte diff without a kernel: services encoded straight to bytes
 * decode to exactly the elements the text renderer writes (v4, v6, draining, scaled weights), and
 * the byte diff finds the same changes as the text diff. The kernel side (the same bytes accepted
 * and dumped back) is netlink.test.ts and the driver's contract and traffic tests.
 */
import t from 'tap';
import type { Service } from '../../driver.js';
import { diffServices, normalize } from '../../services.js';
import { COUNT_LAYOUTS, CollectSink, LAYOUTS, NLA_F_NESTED, Writer, encodeHairpin, encodeService, putVerdict } from '../encode.js';
import { eachAttr, elementText } from '../decode.js';
import { ElementIndex, indexPacked, sameData } from '../element-index.js';
import { diffBytes } from '../bytes-diff.js';
import { isCanonical } from '../plan.js';
import { ElementDelta, diffDelta, eachServiceElement, renderElements } from '../ruleset.js';

const svc = (vip: string, port: number, backends: [string, number, number][], protocol: 'tcp' | 'udp' = 'tcp'): Service =>
  normalize([{ key: '', vip, port, protocol, backends: backends.map(([ip, p, weight]) => ({ ip, port: p, weight })) }])[0]!;

const SERVICES: Service[] = [
  svc('11.0.0.1', 80, [['10.0.0.1', 8080, 1], ['10.0.0.2', 8080, 1], ['10.0.0.3', 8080, 1]]),
  svc('11.0.0.2', 65535, [['10.0.0.1', 1, 3], ['10.0.0.4', 0, 0]], 'udp'),
  svc('255.255.255.255', 0, [['0.0.0.0', 65535, 1]]),
  svc('fd01::10', 80, [['fd02::1', 8080, 1], ['fd02::2', 8080, 2], ['10.9.9.9', 8080, 1]]),
  svc('::1', 443, [['::ffff:10.0.0.1', 443, 1], ['2001:db8:0:0:1:0:0:1', 443, 0]]),
  svc('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 1, [['fe80::1', 2, 1]], 'udp'),
  // Weights summing past maxSlots: scaled, every backend listed in the backends map.
  svc('11.0.0.3', 53, [['10.1.0.1', 53, 100], ['10.1.0.2', 53, 1]], 'udp'),
  svc('fd01::11', 53, [['fd03::1', 53, 50], ['fd03::2', 53, 30]]),
  // Every backend draining: the verdict rejects.
  svc('11.0.0.4', 80, [['10.2.0.1', 80, 0]]),
];
const MAX = 8;

/** Every element a sink holds, decoded: `set|key|value`. */
function decoded(sink: CollectSink): string[] {
  const out: string[] = [];
  for (const [set, w] of sink.sets) {
    const layout = LAYOUTS.get(set)!;
    eachAttr(w.buf, 0, w.len, (_t, s, e) => {
      const [k, v] = elementText(w.buf.subarray(s, e), layout);
      out.push(`${set}|${k}|${v}`);
    });
  }
  return out.sort();
}

t.test('services encoded to bytes decode to the elements the text renderer writes (v4, v6, drain, scaled)', async (t) => {
  const sink = new CollectSink();
  for (const s of SERVICES) encodeService(sink, s, MAX, true);
  const want: string[] = [];
  for (const s of SERVICES) eachServiceElement(s, MAX, (set, k, v) => want.push(`${set}|${k}|${v}`));
  t.same(decoded(sink), want.sort());
  t.ok(want.some((e) => e.startsWith('svc6|ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff . udp . 1|')), 'the all-ones v6 VIP is among them');
  t.ok(want.some((e) => e === 'svc4|11.0.0.4 . tcp . 80|goto no_backend'), 'all draining: reject');
  t.ok(want.some((e) => e.startsWith('backends6|fd01::11 . tcp . 53 . fd03::1 . 53|')), 'scaled v6 weights are listed');

  const keysOnly = new CollectSink();
  for (const s of SERVICES) encodeService(keysOnly, s, MAX, false);
  t.same(
    decoded(keysOnly),
    want.map((e) => e.replace(/\|[^|]*$/, '|')).sort(),
    'a delete carries the keys only',
  );
});

t.test('the slot-count encoding: the service maps get the slot count (0: all draining), bytes and text agree', async (t) => {
  const sink = new CollectSink();
  for (const s of SERVICES) encodeService(sink, s, MAX, true, 'count');
  const want: string[] = [];
  for (const s of SERVICES) eachServiceElement(s, MAX, (set, k, v) => want.push(`${set}|${k}|${v}`), 'count');
  t.same(decoded(sink), want.sort(), 'decoded (a reader tells a count from a verdict by its attribute)');
  t.ok(want.includes('svc4|11.0.0.1 . tcp . 80|3'), 'three backends of weight 1: 3 slots');
  t.ok(want.includes('svc4|11.0.0.4 . tcp . 80|0'), 'all draining: 0');
  t.ok(want.includes('svc6|fd01::11 . tcp . 53|8'), 'scaled to maxSlots');
  t.notOk(want.some((e) => / goto /.test(e)), 'no verdict anywhere');
  const verdicts: string[] = [];
  for (const s of SERVICES) eachServiceElement(s, MAX, (set, k, v) => verdicts.push(`${set}|${k}|${v}`));
  t.same(
    want.filter((e) => !e.startsWith('svc')).sort(),
    verdicts.filter((e) => !e.startsWith('svc')).sort(),
    'the slot, backend maps are the same in both encodings',
  );
  const layout = COUNT_LAYOUTS.get('svc4')!;
  t.same(layout.data, ['u32'], 'svc4 holds a u32 in the slot-count layouts');
});

t.test('hairpin entries, v4 and v6', async (t) => {
  const sink = new CollectSink();
  for (const ip of ['10.0.0.1', 'fd02::1', '::', '255.255.255.255']) encodeHairpin(sink, ip);
  t.same(decoded(sink), ['hairpin4|10.0.0.1 . 10.0.0.1|', 'hairpin4|255.255.255.255 . 255.255.255.255|', 'hairpin6|:: . ::|', 'hairpin6|fd02::1 . fd02::1|']);
});

t.test('malformed services are refused, naming what was wrong', async (t) => {
  const sink = new CollectSink();
  t.throws(() => encodeService(sink, { ...SERVICES[0]!, vip: '11.0.0.256' }, MAX, true), /bad IPv4 address "11\.0\.0\.256"/);
  t.throws(() => encodeService(sink, { ...SERVICES[3]!, vip: 'fd01::10::1' }, MAX, true), /bad IPv6 address/);
  t.throws(() => encodeService(sink, { ...SERVICES[0]!, port: 70000 }, MAX, true), /bad port 70000/);
  t.throws(() => encodeService(sink, { ...SERVICES[0]!, protocol: 'icmp' as 'tcp' }, MAX, true), /bad protocol "icmp"/);
  t.throws(() => encodeService(sink, { ...SERVICES[0]!, backends: [{ ip: '10.0.0.1', port: -1, weight: 1 }] }, MAX, true), /bad port -1/);
  t.throws(() => encodeHairpin(sink, 'nonsense'), /bad IPv4 address/);
});

t.test('an ElementDelta expands its whole services and hairpins to the same text', async (t) => {
  const d = new ElementDelta();
  for (const s of SERVICES) d.addService(s, MAX);
  d.removeService(SERVICES[0]!, MAX);
  d.hairpin('fd02::9', true);
  d.hairpin('10.0.0.9', false);
  const lines: string[] = [];
  d.each((verb, set, keys, values) => keys.forEach((k, i) => lines.push(`${verb} ${set} ${k}${values?.[i] ? ` : ${values[i]}` : ''}`)));
  const want: string[] = [];
  for (const s of SERVICES) eachServiceElement(s, MAX, (set, k, v) => want.push(`add ${set} ${k}${v ? ` : ${v}` : ''}`));
  eachServiceElement(SERVICES[0]!, MAX, (set, k) => want.push(`delete ${set} ${k}`));
  want.push('add hairpin6 fd02::9 . fd02::9', 'delete hairpin4 10.0.0.9 . 10.0.0.9');
  t.same(lines.sort(), want.sort());
  t.equal(d.ops, want.length, 'ops counts every element');
});

/** The kernel's side as an index over the encoding of `services` (plus their hairpins). */
function kernelOf(services: Service[]): Map<string, ElementIndex> {
  const sink = new CollectSink();
  const ips = new Set<string>();
  for (const s of services) {
    encodeService(sink, s, MAX, true);
    for (const b of s.backends) if (b.ip.includes(':') === s.vip.includes(':')) ips.add(b.ip);
  }
  for (const ip of ips) encodeHairpin(sink, ip);
  return new Map([...sink.sets].map(([set, w]) => [set, indexPacked(w.buf, w.len)]));
}

t.test('the byte diff finds the text diff: adds, removes, weight changes, v6', async (t) => {
  const before = SERVICES;
  const after = normalize([
    ...SERVICES.slice(1, 4),
    { ...SERVICES[4]!, backends: SERVICES[4]!.backends.map((b) => ({ ...b, weight: b.weight ? 0 : 1 })) },
    ...SERVICES.slice(5, 8),
    svc('11.0.0.9', 8080, [['10.0.0.1', 80, 2]]),
    svc('fd01::99', 80, [['fd02::1', 80, 1]]),
  ]);
  const { delta, result } = diffBytes(kernelOf(before), after, MAX);
  const got: string[] = [];
  delta.each((verb, set, keys, values) => keys.forEach((k, i) => got.push(`${verb} ${set} ${k}${verb === 'add' && values?.[i] ? ` : ${values[i]}` : ''}`)));
  const want: string[] = [];
  diffDelta(renderElements(before, MAX), renderElements(after, MAX)).each((verb, set, keys, values) =>
    keys.forEach((k, i) => want.push(`${verb} ${set} ${k}${verb === 'add' && values?.[i] ? ` : ${values[i]}` : ''}`)),
  );
  t.same(got.sort(), want.sort(), 'the same element changes as the text diff');
  t.ok(want.length > 10, 'there were changes to find');
  const expected = diffServices(before, after);
  t.same(result, expected, 'services added, removed, changed as diffServices counts them');

  const same = diffBytes(kernelOf(after), after, MAX);
  t.equal(same.delta.ops, 0, 'nothing to do when the kernel holds the desired state');
  t.same(same.result, { added: 0, removed: 0, changed: 0 });
  const empty = diffBytes(new Map(), after, MAX);
  t.equal(empty.delta.ops, renderElements(after, MAX).size && [...renderElements(after, MAX).values()].reduce((n, m) => n + m.size, 0), 'from nothing: every element added');
});

t.test('verdicts compare by code and chain, not by the nesting flag or padding', async (t) => {
  const enc = (chain: string, nested: boolean): Buffer => {
    const w = new Writer(64);
    putVerdict(w, `goto ${chain}`);
    const b = Buffer.from(w.buf.subarray(0, w.len));
    // The kernel's dumps nest without NLA_F_NESTED: clear it on the outer attributes.
    if (!nested) for (const at of [2, 6]) b.writeUInt16LE(b.readUInt16LE(at) & ~NLA_F_NESTED, at);
    return b;
  };
  const a = enc('pick3', true);
  const k = enc('pick3', false);
  t.ok(sameData(a, 4, a.length, k, 4, k.length), 'same verdict, different flags');
  const other = enc('pick2', false);
  t.notOk(sameData(a, 4, a.length, other, 4, other.length), 'another chain differs');
  const long = enc('pick33', false);
  t.notOk(sameData(a, 4, a.length, long, 4, long.length), 'a longer chain name differs');
  t.ok(sameData(a, -1, -1, k, -1, -1), 'no data on either side is equal');
  t.notOk(sameData(a, 4, a.length, k, -1, -1), 'data on one side only differs');
});

t.test('isCanonical: what normalizeOne would return, checked without copying', async (t) => {
  for (const s of SERVICES.filter((s) => !s.vip.includes(':') && !s.backends.some((b) => b.ip.includes(':')))) t.ok(isCanonical(s), s.key);
  const s = SERVICES[0]!;
  t.notOk(isCanonical({ ...s, backends: [...s.backends].reverse() }), 'unsorted backends');
  t.notOk(isCanonical({ ...s, key: 'tcp/11.0.0.1:81' }), 'key with another port');
  t.notOk(isCanonical({ ...s, key: 'udp/11.0.0.1:80' }), 'key with another protocol');
  t.notOk(isCanonical({ ...s, key: 'tcp/11.0.0.1:080' }), 'key with a leading zero');
  t.notOk(isCanonical({ ...s, vip: '011.0.0.1', key: 'tcp/011.0.0.1:80' }), 'address not canonical');
  t.notOk(isCanonical(SERVICES[3]!), 'IPv6 goes through normalizeOne');
});
