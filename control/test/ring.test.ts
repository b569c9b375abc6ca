/** Consistent hashing over masters: stable, order-independent, adding/losing a master moves only its share. */
import t from 'tap';
import { MasterRing } from '../ring.js';

const M = ['10.0.0.1:5060', '10.0.0.2:5060', '10.0.0.3:5060'];
const AGENTS = Array.from({ length: 3000 }, (_, i) => `a1b2c3-S${i}`);

t.test('same list in any order gives the same choice', async (t) => {
  const a = new MasterRing(M);
  const b = new MasterRing([...M].reverse());
  t.ok(AGENTS.every((id) => a.preferred(id) === b.preferred(id)));
  t.same(new Set(a.order('x')), new Set(M), 'order lists every master once');
  t.same(new MasterRing([]).order('x'), []);
});

t.test('shares are balanced within reason', async (t) => {
  const ring = new MasterRing(M);
  const counts = new Map<string, number>();
  for (const id of AGENTS) counts.set(ring.preferred(id)!, (counts.get(ring.preferred(id)!) ?? 0) + 1);
  for (const [m, n] of counts) t.ok(n > AGENTS.length * 0.2 && n < AGENTS.length * 0.47, `${m}: ${n} of ${AGENTS.length}`);
});

const rows = [
  { name: 'adding a master moves agents only to it', before: M, after: [...M, '10.0.0.4:5060'], movedTo: (_from: string, to: string) => to === '10.0.0.4:5060', max: 0.4 },
  { name: 'losing a master moves only its agents', before: M, after: M.slice(0, 2), movedTo: (from: string) => from === M[2], max: 0.47 },
];
for (const r of rows) {
  t.test(r.name, async (t) => {
    const a = new MasterRing(r.before);
    const b = new MasterRing(r.after);
    let moved = 0;
    let wrong = 0;
    for (const id of AGENTS) {
      const x = a.preferred(id)!;
      const y = b.preferred(id)!;
      if (x === y) continue;
      moved++;
      if (!r.movedTo(x, y)) wrong++;
    }
    t.equal(wrong, 0, 'no agent moves between the other masters');
    t.ok(moved > 0 && moved < AGENTS.length * r.max, `${moved} of ${AGENTS.length} moved`);
  });
}

t.test('when the preferred master is lost, the next in order takes over', async (t) => {
  const a = new MasterRing(M);
  for (const id of AGENTS.slice(0, 200)) {
    const order = a.order(id);
    t.equal(new MasterRing(M.filter((m) => m !== order[0])).preferred(id), order[1]);
  }
});
