/**
 * The ipvs driver's incremental apply (`Written.delta`) against the full planner (`planChanges`
 * of the whole written state and the whole desired list): over random sequences of desired lists
 * (shared VIPs, duplicate keys, IPv6 in non-canonical text, drains, removals) both must plan the
 * same commands, routes and counts.
 */
import t from 'tap';
import { seededRandom } from '../../../test/lib/random.js';
import type { Service } from '../../driver.js';
import { normalize, serviceKey } from '../../services.js';
import { Cmd } from '../constants.js';
import { planChanges, type KernelService, type Plan } from '../plan.js';
import { Written } from '../written.js';

/** xorshift32: the same sequences every run. */
const rng = seededRandom;

const VIPS = ['11.0.0.1', '11.0.0.2', '11.0.0.3', 'fd01:c::1', 'fd01:c:0:0::2'];
const BACKENDS = ['10.1.0.1', '10.1.0.2', '10.1.0.3', 'fd00::0a', 'fd00:0::b'];

function randomDesired(r: (n: number) => number): Service[] {
  const out: Service[] = [];
  for (let i = r(9); i > 0; i--) {
    const vip = VIPS[r(VIPS.length)]!;
    const port = [80, 443][r(2)]!;
    const protocol = (['tcp', 'udp'] as const)[r(2)]!;
    const backends = Array.from({ length: 1 + r(3) }, () => ({ ip: BACKENDS[r(BACKENDS.length)]!, port: 8080, weight: r(3) ? 1 : 0 }));
    const uniq = [...new Map(backends.map((b) => [`${b.ip}|${b.port}`, b])).values()];
    out.push({ key: serviceKey(protocol, vip, port), vip, port, protocol, backends: uniq });
  }
  return out;
}

const name = (cmd: number) => Object.entries(Cmd).find(([, v]) => v === cmd)![0];
const summary = (p: Plan) => ({
  services: p.services.map((o) => `${name(o.cmd)} ${o.label}`).sort(),
  dests: p.dests.map((o) => `${name(o.cmd)} ${o.label}`).sort(),
  removals: p.removals.map((o) => `${name(o.cmd)} ${o.label}`).sort(),
  routesAdd: [...p.routesAdd].sort(),
  routesDel: [...p.routesDel].sort(),
  result: p.result,
});

t.test('delta plans what planChanges plans, over 400 random steps', async (t) => {
  const r = rng(0x5e47a);
  let have: KernelService[] = [];
  const w = new Written([], 'wlc');
  let mismatches = 0;
  for (let step = 0; step < 400; step++) {
    const desired = randomDesired(r);
    const want = normalize(desired);
    const full = planChanges(new Map(have.map((s) => [s.key, { ...s, sched: 'wlc' }])), want, 'wlc');
    const { plan, commit } = w.delta(desired);
    if (JSON.stringify(summary(plan)) !== JSON.stringify(summary(full))) {
      mismatches++;
      if (mismatches <= 3) t.same(summary(plan), summary(full), `step ${step}: ${JSON.stringify(desired)}`);
    }
    commit();
    have = [...new Map(want.map((s) => [s.key, s] as const).reverse()).values()];
    t.same([...w.keys()].sort(), [...new Set(want.map((s) => s.key))].sort(), `step ${step}: written keys`, { diagnostic: false });
  }
  t.equal(mismatches, 0, 'no step plans differently');
});

t.test('one change among many: one command, no route work; the same list again: nothing', async (t) => {
  const svcs: Service[] = Array.from({ length: 2000 }, (_, i) => {
    const vip = `11.0.${i >> 8}.${i & 255}`;
    return { key: serviceKey('tcp', vip, 80), vip, port: 80, protocol: 'tcp', backends: [{ ip: '10.1.0.1', port: 8080, weight: 1 }, { ip: '10.1.0.2', port: 8080, weight: 1 }] };
  });
  const w = new Written(normalize(svcs), 'wlc');
  svcs[77]!.backends[1]!.weight = 0;
  const d = w.delta(svcs);
  t.same(summary(d.plan), { services: [], dests: ['SET_DEST tcp/11.0.0.77:80 -> 10.1.0.2:8080'], removals: [], routesAdd: [], routesDel: [], result: { added: 0, removed: 0, changed: 1 } });
  d.commit();
  t.same(summary(w.delta(svcs).plan).result, { added: 0, removed: 0, changed: 0 }, 'committed: the same list is a no-op');
  const second = svcs.filter((_, i) => i !== 5).concat({ ...svcs[0]!, port: 443, key: serviceKey('tcp', svcs[0]!.vip, 443) });
  t.same(summary(w.delta(second).plan), { services: ['NEW_SERVICE tcp/11.0.0.0:443'], dests: ['NEW_DEST tcp/11.0.0.0:443 -> 10.1.0.1:8080', 'NEW_DEST tcp/11.0.0.0:443 -> 10.1.0.2:8080'], removals: ['DEL_SERVICE tcp/11.0.0.5:80'], routesAdd: [], routesDel: ['11.0.0.5'], result: { added: 1, removed: 1, changed: 0 } }, 'a second port on a VIP adds no route; the last service of a VIP takes its route');
});

t.test('a delta that is not committed changes nothing recorded', async (t) => {
  const a: Service = { key: 'tcp/11.0.0.1:80', vip: '11.0.0.1', port: 80, protocol: 'tcp', backends: [{ ip: '10.1.0.1', port: 8080, weight: 1 }] };
  const w = new Written([], 'wlc');
  w.delta([a]);
  t.same([...w.keys()], [], 'not recorded');
  t.same(summary(w.delta([a]).plan).routesAdd, ['11.0.0.1'], 'planned again in full');
});
