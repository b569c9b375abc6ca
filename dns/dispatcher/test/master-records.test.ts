/**
 * The snapshot consumer's merge of the masters' records into the zones (master-records.ts) follows
 * changes instead of keying every record on each view: over a random sequence of changes (records
 * added, removed, moved, repeated, equal records under another case, changed in place, masters
 * changed, a zone record equal to a master's) it gives exactly what the merge from scratch gives.
 */
import t, { type Test } from 'tap';
import { seededRandom } from '../../../test/lib/random.js';
import type { MasterEntry } from '../../../contracts/index.js';
import { MasterRecords, withMasterRecords } from '../master-records.js';
import type { ZoneInput } from '../workers.js';

const master = (ip: string, leader: boolean): MasterEntry => ({ key: ip, id: ip, ip, port: 5050, control_port: 5060, dns_port: 61053, leader });

/** Whether the incremental merge gave what the merge from scratch gives (the same objects, or equal ones); fails the test if not. */
function mergedAsFromScratch(t: Test, step: number, got: readonly unknown[], want: readonly unknown[]): boolean {
  if (got.length === want.length && got.every((r, i) => r === want[i] || JSON.stringify(r) === JSON.stringify(want[i]))) return true;
  t.fail(`step ${step}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
  return false;
}

t.test('the masters\' records go after the zones, once, unless the zones have them', async (t) => {
  const m = new MasterRecords();
  const web: ZoneInput = { name: 'web.marathon.l4lb.thisdcos.directory', type: 'A', data: '11.0.0.1' };
  const masters = [master('10.0.0.1', true), master('10.0.0.2', false)];
  const names = (rs: ZoneInput[]) => rs.map((r) => `${r.name} ${r.data}`);
  t.same(names(m.merge([web], masters)), ['web.marathon.l4lb.thisdcos.directory 11.0.0.1', 'master.dcos.thisdcos.directory 10.0.0.1', 'leader.dcos.thisdcos.directory 10.0.0.1', 'master.dcos.thisdcos.directory 10.0.0.2']);
  const had: ZoneInput = { name: 'Leader.dcos.thisdcos.directory', type: 'A', data: '10.0.0.1' };
  t.same(names(m.merge([had, web], masters)), ['Leader.dcos.thisdcos.directory 10.0.0.1', 'web.marathon.l4lb.thisdcos.directory 11.0.0.1', 'master.dcos.thisdcos.directory 10.0.0.1', 'master.dcos.thisdcos.directory 10.0.0.2'], 'a record the zones have (in any case) is not added again');
  t.same(names(m.merge([web, web], [])), ['web.marathon.l4lb.thisdcos.directory 11.0.0.1'], 'a repeated record is kept once');
  web.data = '11.0.0.2';
  t.same(names(m.merge([web], [])), ['web.marathon.l4lb.thisdcos.directory 11.0.0.2'], 'a record changed in place is merged as it is');
});

t.test('random changes: the merge that follows changes equals the merge from scratch (fixed seed)', async (t) => {
  const random = seededRandom(19);
  // Mostly distinct records (the merge's fast path), a few equal to another or to a master's.
  const pool: ZoneInput[] = Array.from({ length: 30 }, (_, i) => ({ name: `n${i}.marathon.l4lb.thisdcos.directory`, type: 'A', data: `11.0.0.${i}` }));
  pool.push({ name: 'N1.marathon.l4lb.thisdcos.directory', type: 'A', data: '11.0.0.1' }, { name: 'master.dcos.thisdcos.directory', type: 'A', data: '10.0.0.1' }, { name: 'LEADER.dcos.thisdcos.directory', type: 'A', data: '10.0.0.2' });
  const changeInPlace = (r: ZoneInput, step: number) => {
    const to = random(6);
    if (to < 4) r.data = `11.2.${step & 255}.1`; // a key of its own
    else if (to === 4) [r.name, r.data] = ['n2.marathon.l4lb.thisdcos.directory', '11.0.0.2']; // equal to another
    else [r.name, r.data] = ['master.dcos.thisdcos.directory', '10.0.0.2']; // equal to a master's
  };
  const masterSets = [[], [master('10.0.0.1', true)], [master('10.0.0.1', false), master('10.0.0.2', true)], [master('fd00::1', true)]];
  const m = new MasterRecords();
  let zones: ZoneInput[] = [];
  let masters: MasterEntry[] = [];
  let same = 0;
  let unique = 0;
  for (let step = 0; step < 500; step++) {
    const next = zones.slice();
    const op = random(12);
    const pick = pool[random(pool.length)]!;
    if (op < 4 || !next.length) next.splice(random(next.length + 1), 0, next.includes(pick) ? { name: `fresh${step}.marathon.l4lb.thisdcos.directory`, type: 'A', data: '11.1.0.1' } : pick);
    else if (op < 8) next.splice(random(next.length), 1);
    else if (op < 9) changeInPlace(next[random(next.length)]!, step);
    else if (op < 10 && next.length > 1) next.push(next.shift()!); // moved
    else if (op < 11) masters = masterSets[random(masterSets.length)]!;
    else next.splice(random(next.length + 1), 0, { name: `fresh${random(5)}.marathon.l4lb.thisdcos.directory`, type: 'A', data: '11.1.0.1' });
    zones = next;
    if (!mergedAsFromScratch(t, step, m.merge(zones, masters), withMasterRecords(zones, masters))) break;
    same++;
    if (new Set(zones.map((r) => `${r.name.toLowerCase()}/${r.data}`)).size === zones.length) unique++;
  }
  t.equal(same, 500, 'every step merged as from scratch');
  t.ok(unique > 100, `many steps had no repeated record (the merge's fast path): ${unique}`);
});

t.test('zones kept sorted by key, as the control plane sends them: the merge follows them as the merge from scratch does (fixed seed)', async (t) => {
  const random = seededRandom(21);
  const rec = (name: string, data: string): ZoneInput & { key: string } => ({ key: `${name}/A/${data}`, name, type: 'A', data });
  const byKey = (a: ZoneInput, b: ZoneInput) => {
    const [x, y] = [`${a.name.toLowerCase()}/${a.type}/${a.data}`, `${b.name.toLowerCase()}/${b.type}/${b.data}`];
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const masterSets = [[], [master('10.0.0.1', true)], [master('10.0.0.1', false), master('10.0.0.2', true)]];
  const m = new MasterRecords();
  let zones: ZoneInput[] = [];
  let masters: MasterEntry[] = masterSets[1]!;
  let same = 0;
  let sorted = 0;
  for (let step = 0; step < 400; step++) {
    let next = zones.slice();
    const op = random(11);
    if (op === 10 && next.length) {
      const at = random(next.length);
      next[at] = { ...next[at]! }; // sent again: an equal record, another object (the held view replaces an upserted entry)
    } else if (op < 4 || !next.length) {
      // A new record where its key goes; now and then the leader's record, or one the list has (in another case).
      const r = op === 0 ? rec('leader.dcos.thisdcos.directory', '10.0.0.2') : op === 1 && next.length ? { ...next[random(next.length)]!, name: next[0]!.name.toUpperCase() } : rec(`n${random(60)}.marathon.l4lb.thisdcos.directory`, `11.0.0.${random(3)}`);
      next.push(r);
      next.sort(byKey);
    } else if (op < 7) next.splice(random(next.length), 1);
    else if (op < 8) next[random(next.length)]!.data = `11.3.${step & 255}.1`; // changed in place: maybe out of order now
    else if (op < 9) next = next.sort(byKey).filter((r, i, a) => i === 0 || byKey(a[i - 1]!, r) !== 0); // sorted again, each key once
    else masters = masterSets[random(masterSets.length)]!;
    zones = next;
    if (!mergedAsFromScratch(t, step, m.merge(zones, masters), withMasterRecords(zones, masters))) break;
    same++;
    if (zones.every((r, i) => i === 0 || byKey(zones[i - 1]!, r) < 0)) sorted++;
  }
  t.equal(same, 400, 'every step merged as from scratch');
  t.ok(sorted > 100, `many steps had the keys strictly increasing (no counts kept): ${sorted}`);
});
