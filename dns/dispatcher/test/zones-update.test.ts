/**
 * Updating the local zones costs what changed (issue 26: an agent at 10,000 VIP names got every
 * name's answers re-encoded on each change): a name whose records are the same keeps its prebuilt
 * answers (its round-robin goes on where it was; a rebuilt answer starts over), a changed name is
 * answered from its new records, and the dispatcher's snapshot consumer does nothing when neither of
 * its parts changed (the held view hands an unchanged part over as the same array). Records are not
 * trusted to stay as parsed: one changed in place is served as it is when set again.
 */
import t from 'tap';
import { seededRandom } from '../../../test/lib/random.js';
import type { Snapshot, ZoneRecord } from '../../../contracts/index.js';
import { parseQuery } from '../../wire/query.js';
import { LocalZones } from '../zones.js';
import { applyZoneDelta } from '../zone-delta.js';
import { addresses, query, rcode, startDispatcher, udpAsk } from './helpers.js';
import { loopbackBlock } from '../../../test/lib/index.js';

const A = 1;
const rec = (name: string, data: string): ZoneRecord => ({ key: `${name}/A/${data}`, name, type: 'A', data });
const vipName = (i: number) => `app${i}.marathon.l4lb.thisdcos.directory`;

function ask(z: LocalZones, name: string): string[] {
  const raw = query(name, A);
  return addresses(z.answer(raw, parseQuery(raw), 512));
}

t.test('a set of records rebuilds only the names that changed', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const records = [rec('two.marathon.l4lb.thisdcos.directory', '11.0.0.1'), rec('two.marathon.l4lb.thisdcos.directory', '11.0.0.2'), rec('moving.marathon.l4lb.thisdcos.directory', '11.0.1.1'), rec('other.marathon.l4lb.thisdcos.directory', '11.0.2.1'), rec('other.marathon.l4lb.thisdcos.directory', '11.0.2.2')];
  z.set(records);
  t.same(ask(z, 'two.marathon.l4lb.thisdcos.directory'), ['11.0.0.1', '11.0.0.2'], 'first rotation');
  t.same(ask(z, 'other.marathon.l4lb.thisdcos.directory'), ['11.0.2.1', '11.0.2.2'], 'first rotation of the other name');
  // One name changes, one name is added; `two` and `other` keep their records.
  z.set([...records.filter((r) => !r.name.startsWith('moving')), rec('moving.marathon.l4lb.thisdcos.directory', '11.0.1.9'), rec('new.marathon.l4lb.thisdcos.directory', '11.0.3.1')]);
  t.same(ask(z, 'two.marathon.l4lb.thisdcos.directory'), ['11.0.0.2', '11.0.0.1'], 'an unchanged name keeps its answers: its rotation goes on');
  t.same(ask(z, 'moving.marathon.l4lb.thisdcos.directory'), ['11.0.1.9'], 'a changed name answers its new record');
  t.same(ask(z, 'new.marathon.l4lb.thisdcos.directory'), ['11.0.3.1'], 'an added name answers');
  // `other` gets a third record: rebuilt, so its rotation starts over with the new list.
  z.set([...records.filter((r) => !r.name.startsWith('moving')), rec('other.marathon.l4lb.thisdcos.directory', '11.0.2.3')]);
  t.same(ask(z, 'other.marathon.l4lb.thisdcos.directory'), ['11.0.2.1', '11.0.2.2', '11.0.2.3'], 'a name with a record more is rebuilt from its first rotation');
  const nx = query('moving.marathon.l4lb.thisdcos.directory', A);
  t.equal(z.answer(nx, parseQuery(nx), 512)[3]! & 0x0f, 3, 'a removed name is NXDOMAIN');
});

t.test('the snapshot consumer skips a view whose zones and masters did not change', async (t) => {
  const ip = loopbackBlock();
  const { d } = await startDispatcher(t, ip(1), {});
  const sets: number[] = [];
  const real = d.setZoneRecords.bind(d);
  d.setZoneRecords = (records) => {
    sets.push(records.length);
    real(records);
  };
  const zones = Array.from({ length: 100 }, (_, i) => rec(vipName(i), `11.0.0.${i + 1}`));
  const masters: Snapshot['parts']['masters'] = [{ key: '10.0.0.1', id: 'm1', ip: '10.0.0.1', port: 5050, control_port: 5060, dns_port: 61053, leader: true }];
  const view = (version: number, z: ZoneRecord[], vips: Snapshot['parts']['vips'] = []): Snapshot => ({
    history: 'h',
    version,
    overlay: { vtep_subnet: '44.128.0.0/20', vtep_mac_oui: '70:B3:D5:00:00:00', vni: 1024, vtep_name: 'vtep1024', vxlan_port: 64000 },
    parts: { vips, zones: z, networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters },
  });
  const c = d.snapshotConsumer();
  await c.apply(view(1, zones));
  t.same(sets, [102], 'the first view is applied (100 names and the master\'s two)');
  await c.apply(view(2, zones, []));
  t.same(sets, [102], 'same zones and masters arrays (only the VIPs changed): nothing to do');
  const more = [...zones, rec(vipName(100), '11.0.1.1')];
  await c.apply(view(3, more));
  t.same(sets, [102, 103], 'a changed zones part is applied');
  d.setZoneRecords([]); // someone else (a zone file) replaced the records
  await c.apply(view(4, more));
  t.same(sets, [102, 103, 0, 103], 'after another writer, the same parts are applied again');
});

t.test('an update of one name among 10,000 rebuilds that name only; removed names and their emptied parents are NXDOMAIN', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const base = Array.from({ length: 10_000 }, (_, i) => rec(vipName(i), `11.${i >> 8}.${i & 255}.1`));
  const lone = rec('x.lone.marathon.l4lb.thisdcos.directory', '11.200.0.1'); // the only record under lone.…
  z.set([...base, lone]);
  const before = new Map(base.map((r) => [r.name, z.answersOf(r.name)!]));
  const beforeAnswers = new Map(base.map((r) => [r.name, [...z.answersOf(r.name)!.values()]]));
  t.same(ask(z, 'lone.marathon.l4lb.thisdcos.directory'), [], 'the parent of a lone name exists (NODATA)');
  // app5000 changes its address, lone.… goes, a new name comes; the rest are the same objects.
  const changed = rec(vipName(5000), '11.250.0.1');
  const added = rec('fresh.marathon.l4lb.thisdcos.directory', '11.201.0.1');
  z.set([...base.slice(0, 5000), changed, ...base.slice(5001), added]);
  let same = 0;
  for (const r of base) {
    if (r.name === vipName(5000)) continue;
    const now = z.answersOf(r.name)!;
    if (now === before.get(r.name) && [...now.values()].every((a, i) => a === beforeAnswers.get(r.name)![i])) same++;
  }
  t.equal(same, 9_999, 'every other name keeps its answers, the same objects');
  t.not(z.answersOf(vipName(5000)), before.get(vipName(5000)), 'the changed name is rebuilt');
  t.same(ask(z, vipName(5000)), ['11.250.0.1'], 'the changed name answers its new record');
  t.same(ask(z, 'fresh.marathon.l4lb.thisdcos.directory'), ['11.201.0.1'], 'an added name answers');
  const rcodeOf = (name: string) => {
    const raw = query(name, A);
    return z.answer(raw, parseQuery(raw), 512)[3]! & 0x0f;
  };
  t.equal(rcodeOf('x.lone.marathon.l4lb.thisdcos.directory'), 3, 'a removed name is NXDOMAIN');
  t.equal(rcodeOf('lone.marathon.l4lb.thisdcos.directory'), 3, 'its parent, now empty, is NXDOMAIN');
  t.equal(rcodeOf('marathon.l4lb.thisdcos.directory'), 0, 'a parent with names left stays (NODATA)');
  t.equal(z.recordCounts().get('thisdcos.directory'), 10_001, 'the record count follows');
});

t.test('a name with records of its own and names below it: losing its own records leaves it empty (NODATA), losing those below too removes it', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const rcodeOf = (name: string) => {
    const raw = query(name, A);
    return z.answer(raw, parseQuery(raw), 512)[3]! & 0x0f;
  };
  const parent = rec('svc.marathon.l4lb.thisdcos.directory', '11.0.0.1');
  const child = rec('a.svc.marathon.l4lb.thisdcos.directory', '11.0.0.2');
  const other = rec('other.marathon.l4lb.thisdcos.directory', '11.0.0.3');
  z.set([parent, child, other]);
  t.same(ask(z, parent.name), ['11.0.0.1'], 'the parent answers its own record');
  z.set([child, other]);
  t.equal(rcodeOf(parent.name), 0, 'its own record gone, a name below it: NOERROR');
  t.same(ask(z, parent.name), [], 'with no record (NODATA)');
  t.same(ask(z, child.name), ['11.0.0.2'], 'the name below it still answers');
  z.set([parent, child, other]);
  t.same(ask(z, parent.name), ['11.0.0.1'], 'its record back: answered again');
  z.set([other]);
  t.equal(rcodeOf(parent.name), 3, 'both gone at once: NXDOMAIN');
  t.equal(rcodeOf(child.name), 3, 'the name below it too');
  z.set([child, other]);
  t.equal(rcodeOf(parent.name), 0, 'a name below it comes back: the parent exists again (NODATA)');
  z.set([other]);
  t.equal(rcodeOf(parent.name), 3, 'and goes with it');
  t.equal(rcodeOf('marathon.l4lb.thisdcos.directory'), 0, 'a parent with a name left stays');
});

t.test('records kept in a new order answer in the new order (every name rebuilt)', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const a = rec('rr.marathon.l4lb.thisdcos.directory', '11.0.0.1');
  const b = rec('rr.marathon.l4lb.thisdcos.directory', '11.0.0.2');
  z.set([a, b]);
  t.same(ask(z, 'rr.marathon.l4lb.thisdcos.directory'), ['11.0.0.1', '11.0.0.2']);
  z.set([b, a]);
  t.same(ask(z, 'rr.marathon.l4lb.thisdcos.directory'), ['11.0.0.2', '11.0.0.1'], 'the same objects reordered: the answer follows the order');
  z.set([b, a, a]);
  t.same(ask(z, 'rr.marathon.l4lb.thisdcos.directory'), ['11.0.0.2', '11.0.0.1', '11.0.0.1'], 'a repeated object is served twice, as before');
});

t.test('over a real socket: after an incremental update the dispatcher answers the added name and NXDOMAIN for the removed one', async (t) => {
  const ip = loopbackBlock();
  const { d, udp } = await startDispatcher(t, ip(1), {});
  const base = Array.from({ length: 1_000 }, (_, i) => rec(vipName(i), `11.0.${i >> 8}.${i & 255}`));
  d.setZoneRecords(base);
  d.setZoneRecords([...base.slice(0, 500), ...base.slice(501), rec(vipName(1_000), '11.9.0.1')]);
  const ask = (name: string) => udpAsk(ip(1), udp, query(name, A));
  t.same(addresses(await ask(vipName(1_000))), ['11.9.0.1'], 'the added name answers');
  t.equal(rcode(await ask(vipName(500))), 3, 'the removed name is NXDOMAIN');
  t.same(addresses(await ask(vipName(499))), ['11.0.1.243'], 'a kept name answers');
});

t.test('an array changed in place and set again is diffed against what was set, not against itself', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const records = [rec('keep.marathon.l4lb.thisdcos.directory', '11.0.0.1'), rec('go.marathon.l4lb.thisdcos.directory', '11.0.0.2')];
  z.set(records);
  records.pop();
  z.set(records);
  const raw = query('go.marathon.l4lb.thisdcos.directory', A);
  t.equal(z.answer(raw, parseQuery(raw), 512)[3]! & 0x0f, 3, 'the record taken out of the array is gone');
  t.same(ask(z, 'keep.marathon.l4lb.thisdcos.directory'), ['11.0.0.1']);
});

t.test('a record object changed in place after set cannot leave a stale answer: the next set parses it again', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const a = rec('a.marathon.l4lb.thisdcos.directory', '11.0.0.1');
  const b = rec('b.marathon.l4lb.thisdcos.directory', '11.0.0.2');
  z.set([a, b]);
  a.data = '11.0.0.9';
  const delta = z.set([a, b]);
  t.same(ask(z, a.name), ['11.0.0.9'], 'the same object with new data, set again: its new data is served');
  t.same(delta, { removed: [0], added: [[0, a]], size: 2 }, 'it is in the change as removed and added (the workers get it too)');
  a.name = 'renamed.marathon.l4lb.thisdcos.directory';
  z.set([a, b]);
  t.same(ask(z, 'renamed.marathon.l4lb.thisdcos.directory'), ['11.0.0.9'], 'renamed in place: the new name answers');
  const rcodeOf = (name: string) => {
    const raw = query(name, A);
    return z.answer(raw, parseQuery(raw), 512)[3]! & 0x0f;
  };
  t.equal(rcodeOf('a.marathon.l4lb.thisdcos.directory'), 3, 'and the old name is gone');
  // Changed in place, then taken out: what is removed is what was served.
  a.data = '11.0.0.10';
  z.set([b]);
  t.equal(rcodeOf('renamed.marathon.l4lb.thisdcos.directory'), 3, 'a record changed and removed: its served name is gone');
  // Set again after a change while it was out: the parse cached for the object is not used.
  a.data = '11.0.0.11';
  z.set([a, b]);
  t.same(ask(z, 'renamed.marathon.l4lb.thisdcos.directory'), ['11.0.0.11'], 'a record added back after a change answers its new data');
  t.equal(z.recordCounts().get('thisdcos.directory'), 2, 'the record count follows');
  // A change in place to bad data is refused like any bad record, and changes nothing.
  b.data = 'not-an-address';
  t.throws(() => z.set([a, b]), /zone record b\.marathon\.l4lb\.thisdcos\.directory\/A\/not-an-address: A data must be an IPv4 address/, 'the bad record is named');
  t.same(ask(z, 'b.marathon.l4lb.thisdcos.directory'), ['11.0.0.2'], 'what was served stays');
  b.data = '11.0.0.3';
  z.set([a, b]);
  t.same(ask(z, 'b.marathon.l4lb.thisdcos.directory'), ['11.0.0.3'], 'fixed in place and set again: served');
});

t.test('records whose parse differs from their fields (a name in capitals, a CNAME target with its dot) are checked against the fields they were parsed from', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const CNAME = 5;
  const targetOf = (name: string): string | undefined => {
    const raw = query(name, CNAME);
    const out = z.answer(raw, parseQuery(raw), 512);
    return (out[7]! ? 'answered' : undefined) && out.subarray(12).toString('latin1').replace(/[^a-z.-]+/g, '.');
  };
  const upper = rec('Up.Marathon.l4lb.thisdcos.directory', '11.0.0.1');
  const alias: ZoneRecord = { key: 'alias.marathon.l4lb.thisdcos.directory/CNAME/one.example.', name: 'alias.marathon.l4lb.thisdcos.directory', type: 'CNAME', data: 'one.example.' };
  z.set([upper, alias]);
  t.same(ask(z, 'up.marathon.l4lb.thisdcos.directory'), ['11.0.0.1'], 'the name in capitals answers in lowercase');
  t.match(targetOf(alias.name), /one\.example/, 'the CNAME answers its target');
  t.equal(z.set([upper, alias])?.added.length, 0, 'set again unchanged: nothing added');
  upper.data = '11.0.0.2';
  alias.data = 'two.example.';
  const delta = z.set([upper, alias]);
  t.same(delta, { removed: [0, 1], added: [[0, upper], [1, alias]], size: 2 }, 'both changed in place: removed and added');
  t.same(ask(z, 'up.marathon.l4lb.thisdcos.directory'), ['11.0.0.2'], 'the new data is served');
  t.match(targetOf(alias.name), /two\.example/, 'the new target is served');
  upper.name = 'UP.marathon.l4lb.thisdcos.directory';
  t.same(z.set([upper, alias]), { removed: [0], added: [[0, upper]], size: 2 }, 'a change of case only is a change of the fields too');
  t.same(ask(z, 'up.marathon.l4lb.thisdcos.directory'), ['11.0.0.2'], 'and the name still answers');
});

t.test('incremental sets answer, count and report changes as a set from scratch does (random changes, fixed seed)', async (t) => {
  const random = seededRandom(26);
  const zones = ['thisdcos.directory', 'spartan'];
  const pool = Array.from({ length: 40 }, (_, i) => rec(`n${i % 25}.${i % 3 ? 'marathon.l4lb.' : 'x.'}${zones[i % 2]}`, `11.0.${i}.1`));
  const z = new LocalZones(['127.0.0.1']);
  let records: ZoneRecord[] = [];
  let deltas = 0;
  for (let step = 0; step < 300; step++) {
    const next = records.slice();
    const op = random(10);
    if (op < 4 || !next.length) next.splice(random(next.length + 1), 0, pool[random(pool.length)]!);
    else if (op < 7) next.splice(random(next.length), 1);
    else if (op < 8) pool[random(pool.length)]!.data = `11.1.${step & 255}.${random(250)}`; // changed in place
    else if (op < 9 && next.length > 1) next.push(next.shift()!); // moved: a rebuild
    else next.splice(random(next.length + 1), 0, rec(`fresh${step}.marathon.l4lb.thisdcos.directory`, '11.2.0.1'));
    const prev = records;
    const delta = z.set(next);
    records = next;
    if (delta) {
      deltas++;
      const rebuilt = applyZoneDelta(prev, JSON.parse(JSON.stringify(delta)));
      if (JSON.stringify(rebuilt) !== JSON.stringify(next)) t.fail(`step ${step}: the change does not rebuild the list`);
    }
    const fresh = new LocalZones(['127.0.0.1']);
    fresh.set(next.map((r) => ({ ...r })));
    if (JSON.stringify([...z.recordCounts()].sort()) !== JSON.stringify([...fresh.recordCounts()].sort())) t.fail(`step ${step}: record counts ${JSON.stringify([...z.recordCounts()])}`);
    for (const name of new Set([...pool, ...next].flatMap((r) => [r.name, r.name.slice(r.name.indexOf('.') + 1)]))) {
      const raw = query(name, A);
      const [x, y] = [z.answer(raw, parseQuery(raw), 512), fresh.answer(raw, parseQuery(raw), 512)];
      // Same rcode and the same records (a kept answer may be at another rotation: compare as sets).
      if ((x[3]! & 0x0f) !== (y[3]! & 0x0f) || JSON.stringify(addresses(x).sort()) !== JSON.stringify(addresses(y).sort())) {
        t.fail(`step ${step}: ${name} answers ${addresses(x)} (rcode ${x[3]! & 0x0f}), from scratch ${addresses(y)} (rcode ${y[3]! & 0x0f})`);
      }
    }
  }
  t.ok(deltas > 150, `most sets were incremental (${deltas} of 300)`);
  t.pass('300 random changes checked');
});

t.test('answers are encoded at a name\'s first query and kept: a fallback to CNAME, NODATA and ANY asked twice answer the same', async (t) => {
  const z = new LocalZones(['127.0.0.1']);
  const cname: ZoneRecord = { key: 'alias.marathon.l4lb.thisdcos.directory/CNAME/x', name: 'alias.marathon.l4lb.thisdcos.directory', type: 'CNAME', data: 'app1.marathon.l4lb.thisdcos.directory' };
  const both = [rec('dual.marathon.l4lb.thisdcos.directory', '11.0.9.1'), { key: 'd/TXT', name: 'dual.marathon.l4lb.thisdcos.directory', type: 'TXT', data: 'hello' } as ZoneRecord];
  z.set([cname, ...both, rec(vipName(1), '11.0.0.1')]);
  const answer = (name: string, type: number) => {
    const raw = query(name, type, { id: 7 });
    return z.answer(raw, parseQuery(raw), 512);
  };
  const ancount = (m: Buffer) => m.readUInt16BE(6);
  for (const round of [1, 2]) {
    const viaCname = answer('alias.marathon.l4lb.thisdcos.directory', A);
    t.equal(rcode(viaCname), 0, `round ${round}: A of a CNAME-only name: NOERROR`);
    t.equal(ancount(viaCname), 1, `round ${round}: answered with the CNAME`);
    const nodata = answer(vipName(1), 28);
    t.equal(rcode(nodata), 0, `round ${round}: AAAA of an A-only name: NODATA`);
    t.equal(ancount(nodata), 0, `round ${round}: no answer record`);
    t.equal(nodata.readUInt16BE(8), 1, `round ${round}: the SOA in authority`);
    t.equal(ancount(answer('dual.marathon.l4lb.thisdcos.directory', 255)), 2, `round ${round}: ANY: both types`);
    t.same(addresses(answer('dual.marathon.l4lb.thisdcos.directory', A)), ['11.0.9.1'], `round ${round}: A of a name with two types`);
    t.equal(rcode(answer('marathon.l4lb.thisdcos.directory', A)), 0, `round ${round}: a name with records only below it: NODATA`);
  }
  // The name's records change: its kept answers go with them.
  z.set([cname, ...both, rec(vipName(1), '11.0.0.2')]);
  t.same(ask(z, vipName(1)), ['11.0.0.2'], 'a changed name answers its new record after being asked before');
  t.same(z.answersOf(vipName(1))!.length, 1, 'answersOf gives the name\'s records');
});
