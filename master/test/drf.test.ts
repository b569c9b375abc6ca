import t from 'tap';
import { allocateRound, DeclineFilters, dominantShare, type FrameworkScheduler, type FrameworkSlot, type Offer } from '../allocator.js';
import type { AgentRecord } from '../model.js';
import type { TaskInfo } from '../../contracts/index.js';

function agent(id: string, cpus: number, mem: number): AgentRecord {
  return { agent_id: id, hostname: id, ip: '127.0.0.1', port: 5051, resources: { cpus, mem, disk: 0, ports: [[31000, 31999]] }, attributes: {}, active: true, registered_time: 0 };
}

/** A framework that wants `want` tasks of one shape, one per offer. */
class Greedy implements FrameworkScheduler {
  launched = 0;
  offers = 0;
  constructor(
    readonly name: string,
    private readonly cpus: number,
    private readonly mem: number,
    private readonly want = Infinity,
    private readonly decline = false,
  ) {}
  wantsOffers() {
    return this.launched < this.want;
  }
  resourceOffer(o: Offer) {
    this.offers++;
    if (this.decline || o.resources.cpus < this.cpus || o.resources.mem < this.mem) return { decline: { refuseSeconds: 5 } };
    this.launched++;
    const task = { task_id: `${this.name}-${this.launched}`, agent_id: o.agent.agent_id, resources: { cpus: this.cpus, mem: this.mem, disk: 0, ports: [] }, ports: [] } as unknown as TaskInfo;
    return { launch: [task] };
  }
}

function slot(s: FrameworkScheduler): FrameworkSlot {
  return { id: s.name, scheduler: s, allocated: { cpus: 0, mem: 0, disk: 0 } };
}

let n = 0;
const newOfferId = () => `o${++n}`;

t.test('DRF: the classic example (9 cpus, 18 GB; A <1 cpu, 4 GB>, B <3 cpus, 1 GB>)', async (t) => {
  const a = new Greedy('A', 1, 4096);
  const b = new Greedy('B', 3, 1024);
  const fws = [slot(a), slot(b)];
  const r = allocateRound({ agents: [{ agent: agent('s1', 9, 18432), free: agent('s1', 9, 18432).resources }], frameworks: fws, filters: new DeclineFilters(), nowMs: 0, newOfferId });
  t.equal(a.launched, 3, 'A gets 3 tasks (dominant share mem 12/18 = 2/3)');
  t.equal(b.launched, 2, 'B gets 2 tasks (dominant share cpu 6/9 = 2/3)');
  t.equal(r.launched.length, 5);
  const total = { cpus: 9, mem: 18432, disk: 0 };
  t.equal(dominantShare(fws[0]!.allocated, total).toFixed(3), dominantShare(fws[1]!.allocated, total).toFixed(3), 'equal dominant shares');
});

t.test('DRF: the framework with the lower share is offered first', async (t) => {
  const a = new Greedy('A', 1, 1, 1);
  const b = new Greedy('B', 1, 1, 1);
  const fa = slot(a);
  fa.allocated = { cpus: 5, mem: 0, disk: 0 };
  allocateRound({ agents: [{ agent: agent('s1', 10, 10), free: { cpus: 1, mem: 1, disk: 0, ports: [] } }], frameworks: [fa, slot(b)], filters: new DeclineFilters(), nowMs: 0, newOfferId });
  t.equal(b.launched, 1, 'B (share 0) got the only slot');
  t.equal(a.launched, 0, 'A (share 0.5) got nothing');
});

t.test('decline filters the agent for refuse_seconds, revive clears it', async (t) => {
  const d = new Greedy('D', 1, 1, 1, true);
  const filters = new DeclineFilters();
  const agents = () => [{ agent: agent('s1', 4, 4), free: agent('s1', 4, 4).resources }];
  let r = allocateRound({ agents: agents(), frameworks: [slot(d)], filters, nowMs: 0, newOfferId });
  t.equal(r.declines, 1);
  r = allocateRound({ agents: agents(), frameworks: [slot(d)], filters, nowMs: 1000, newOfferId });
  t.equal(r.offers, 0, 'filtered at +1 s');
  r = allocateRound({ agents: agents(), frameworks: [slot(d)], filters, nowMs: 6000, newOfferId });
  t.equal(r.offers, 1, 'offered again after 5 s');
  filters.revive('D');
  r = allocateRound({ agents: agents(), frameworks: [slot(d)], filters, nowMs: 6500, newOfferId });
  t.equal(r.offers, 1, 'revive clears the filter');
});

t.test('a declining framework does not block the other', async (t) => {
  const d = new Greedy('A', 1, 1, Infinity, true);
  const g = new Greedy('B', 1, 1, 2);
  allocateRound({ agents: [{ agent: agent('s1', 4, 4), free: agent('s1', 4, 4).resources }], frameworks: [slot(d), slot(g)], filters: new DeclineFilters(), nowMs: 0, newOfferId });
  t.equal(g.launched, 2);
});

t.test('launches spread over agents and never exceed free resources', async (t) => {
  const g = new Greedy('G', 1, 1);
  const agents = [1, 2, 3].map((i) => ({ agent: agent(`s${i}`, 2, 2), free: agent(`s${i}`, 2, 2).resources }));
  const r = allocateRound({ agents, frameworks: [slot(g)], filters: new DeclineFilters(), nowMs: 0, newOfferId });
  t.equal(r.launched.length, 6, 'all 6 slots used');
  const per = new Map<string, number>();
  for (const l of r.launched) per.set(l.task.agent_id, (per.get(l.task.agent_id) ?? 0) + 1);
  t.same([...per.values()], [2, 2, 2]);
  t.ok(agents.every((a) => a.free.cpus === 0));
});

t.test('inactive agents get no offers', async (t) => {
  const g = new Greedy('G', 1, 1);
  const a = agent('s1', 2, 2);
  a.active = false;
  const r = allocateRound({ agents: [{ agent: a, free: a.resources }], frameworks: [slot(g)], filters: new DeclineFilters(), nowMs: 0, newOfferId });
  t.equal(r.offers, 0);
});
