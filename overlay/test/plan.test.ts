/**
 * The typed plan: diff.ts's `Op[]` for representative changes, rendered by the iproute2 driver's
 * renderer, equals byte for byte the batches the text planner wrote before `Op[]` existed
 * (recorded from commit 42b03ea on plan-cases.ts's inputs), apart from two planner fixes made
 * since, each marked where it changes the recording.
 */
import t from 'tap';
import { planChanges } from '../diff.js';
import { opText, renderBatch, type Plan } from '../batch.js';
import type { Op } from '../ops.js';
import { bareKernel, planCases, v4Want } from './plan-cases.js';
import { desiredState } from '../desired.js';
import { DEFAULT_OVERLAY, type Snapshot } from '../../contracts/index.js';

/** What the text planner emitted for each case in plan-cases.ts. */
const recorded: [string, Plan][] = [
  ['fresh agent, v4', {
    ip: [
      'link add vtep1024 type vxlan id 1024 dstport 64000 nolearning noudpcsum',
      'link set vtep1024 address 70:b3:d5:80:00:01 mtu 1450 up',
      'addr replace 44.128.0.1/20 dev vtep1024',
      'link add m-dcos type bridge',
      'link set m-dcos mtu 1420 up',
      'addr replace 9.0.0.1/25 dev m-dcos',
      'neigh replace 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 nud permanent',
      'neigh replace 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 nud permanent',
      'route replace 9.0.1.0/24 via 44.128.0.2 dev vtep1024 onlink',
      'route replace 9.0.2.0/24 via 44.128.0.3 dev vtep1024 onlink',
      'route replace 10.0.0.2/32 via 44.128.0.2 dev vtep1024 onlink table 42',
      'route replace 10.0.0.3/32 via 44.128.0.3 dev vtep1024 onlink table 42',
      'rule add from 9.0.0.0/8 lookup 42 pref 32000',
    ],
    bridge: [
      'fdb replace 70:b3:d5:80:00:02 dev vtep1024 dst 10.0.0.2 self permanent',
      'fdb replace 70:b3:d5:80:00:03 dev vtep1024 dst 10.0.0.3 self permanent',
    ],
  }],
  ['fresh agent, dual stack', {
    ip: [
      'link add vtep1024 type vxlan id 1024 dstport 64000 nolearning noudpcsum',
      'link set vtep1024 address 70:b3:d5:80:00:01 mtu 1450 up',
      'addr replace 44.128.0.1/20 dev vtep1024',
      'addr replace fd01:a::2c80:1/64 dev vtep1024 nodad',
      'link add m-app type bridge',
      'link set m-app mtu 1400 up',
      'addr replace 10.1.0.1/25 dev m-app',
      'link add m-dcos type bridge',
      'link set m-dcos mtu 1420 up',
      'addr replace 9.0.0.1/25 dev m-dcos',
      'addr replace fd01:b::1/81 dev m-dcos nodad',
      'neigh replace 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 nud permanent',
      'neigh replace fd01:a::2c80:2 lladdr 70:b3:d5:80:00:02 dev vtep1024 nud permanent',
      'route replace 10.1.1.0/24 via 44.128.0.2 dev vtep1024 onlink',
      'route replace 9.0.1.0/24 via 44.128.0.2 dev vtep1024 onlink',
      'route replace fd01:b:0:0:1::/80 via fd01:a::2c80:2 dev vtep1024 onlink',
      'route replace 10.0.0.2/32 via 44.128.0.2 dev vtep1024 onlink table 42',
      'rule add from 10.1.0.0/16 lookup 42 pref 32000',
      'rule add from 9.0.0.0/8 lookup 42 pref 32000',
    ],
    bridge: [
      'fdb replace 70:b3:d5:80:00:02 dev vtep1024 dst 10.0.0.2 self permanent',
    ],
  }],
  ['nothing to change', {
    ip: [],
    bridge: [],
  }],
  ['nothing to change, dual stack', {
    ip: [],
    bridge: [],
  }],
  ['drift of every kind', {
    ip: [
      'link set vtep1024 address 70:b3:d5:80:00:01 mtu 1450 up',
      // Fixed since the recording (the kernel contract caught it): the stale address is deleted
      // before the new one is added, because deleting a primary IPv4 address deletes the
      // secondaries of its subnet, and the new address was one.
      'addr del 44.128.0.9/20 dev vtep1024',
      'addr replace 44.128.0.1/20 dev vtep1024',
      'addr replace 9.0.0.1/25 dev m-dcos',
      'link del m-old',
      'neigh replace 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 nud permanent',
      'neigh del 44.128.0.4 dev vtep1024',
      'neigh del fd01:a::2c80:4 dev vtep1024',
      'route replace 9.0.2.0/24 via 44.128.0.3 dev vtep1024 onlink',
      'route del 9.0.3.0/24 dev vtep1024',
      'route del fd01:b:0:0:3::/80 dev vtep1024',
      'route replace 10.0.0.3/32 via 44.128.0.3 dev vtep1024 onlink table 42',
      'route del 10.0.0.4/32 table 42',
      'rule add from 9.0.0.0/8 lookup 42 pref 32000',
      'rule del from 9.0.0.0/8 lookup 42 pref 31000',
      'rule del from 10.9.0.0/16 lookup 42 pref 32000',
    ],
    bridge: [
      'fdb replace 70:b3:d5:80:00:03 dev vtep1024 dst 10.0.0.3 self permanent',
      'fdb del 70:b3:d5:80:00:04 dev vtep1024 dst 10.0.0.4 self',
    ],
  }],
  ['recreated VXLAN device', {
    ip: [
      'link del vtep1024',
      'link add vtep1024 type vxlan id 1024 dstport 64000 nolearning noudpcsum',
      'link set vtep1024 address 70:b3:d5:80:00:01 mtu 1450 up',
      'addr replace 44.128.0.1/20 dev vtep1024',
      'neigh replace 44.128.0.2 lladdr 70:b3:d5:80:00:02 dev vtep1024 nud permanent',
      'neigh replace 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 nud permanent',
      'route replace 9.0.1.0/24 via 44.128.0.2 dev vtep1024 onlink',
      'route replace 9.0.2.0/24 via 44.128.0.3 dev vtep1024 onlink',
      // Fixed since the recording (the kernel contract caught it): table-42 routes go through the
      // VXLAN device, so a recreated device needs all of them again (the old planner re-added
      // only those it had not seen before, so 10.0.0.2/32 was lost) and has no stale one to delete.
      'route replace 10.0.0.2/32 via 44.128.0.2 dev vtep1024 onlink table 42',
      'route replace 10.0.0.3/32 via 44.128.0.3 dev vtep1024 onlink table 42',
    ],
    bridge: [
      'fdb replace 70:b3:d5:80:00:02 dev vtep1024 dst 10.0.0.2 self permanent',
      'fdb replace 70:b3:d5:80:00:03 dev vtep1024 dst 10.0.0.3 self permanent',
    ],
  }],
  ['v4 agent to dual stack', {
    ip: [
      'addr replace fd01:a::2c80:1/64 dev vtep1024 nodad',
      'link add m-app type bridge',
      'link set m-app mtu 1400 up',
      'addr replace 10.1.0.1/25 dev m-app',
      'addr replace fd01:b::1/81 dev m-dcos nodad',
      'neigh replace fd01:a::2c80:2 lladdr 70:b3:d5:80:00:02 dev vtep1024 nud permanent',
      'neigh del 44.128.0.3 dev vtep1024',
      'route replace 10.1.1.0/24 via 44.128.0.2 dev vtep1024 onlink',
      'route replace fd01:b:0:0:1::/80 via fd01:a::2c80:2 dev vtep1024 onlink',
      'route del 9.0.2.0/24 dev vtep1024',
      'route del 10.0.0.3/32 table 42',
      'rule add from 10.1.0.0/16 lookup 42 pref 32000',
    ],
    bridge: [
      'fdb del 70:b3:d5:80:00:03 dev vtep1024 dst 10.0.0.3 self',
    ],
  }],
  ['dual stack back to v4', {
    ip: [
      'addr del fd01:a::2c80:1/64 dev vtep1024',
      'addr del fd01:b::1/81 dev m-dcos',
      'link del m-app',
      'neigh replace 44.128.0.3 lladdr 70:b3:d5:80:00:03 dev vtep1024 nud permanent',
      'neigh del fd01:a::2c80:2 dev vtep1024',
      'route replace 9.0.2.0/24 via 44.128.0.3 dev vtep1024 onlink',
      'route del 10.1.1.0/24 dev vtep1024',
      'route del fd01:b:0:0:1::/80 dev vtep1024',
      'route replace 10.0.0.3/32 via 44.128.0.3 dev vtep1024 onlink table 42',
      'rule del from 10.1.0.0/16 lookup 42 pref 32000',
    ],
    bridge: [
      'fdb replace 70:b3:d5:80:00:03 dev vtep1024 dst 10.0.0.3 self permanent',
    ],
  }],
];

t.test('rendered plans equal the text planner\'s batches (and its two fixes)', async (t) => {
  t.equal(recorded.length, planCases.length, 'one recording per case');
  for (const [name, want] of recorded) {
    const c = planCases.find((x) => x.name === name);
    if (!c) {
      t.fail(`no case named "${name}"`);
      continue;
    }
    t.same(renderBatch(planChanges(c.want(), c.have())), want, name);
  }
});

t.test('the recordings exercise every op kind', async (t) => {
  const kinds = new Set(planCases.flatMap((c) => planChanges(c.want(), c.have()).map((o) => o.op)));
  const all: Op['op'][] = ['vxlan.add', 'bridge.add', 'link.set', 'link.del', 'addr.replace', 'addr.del', 'neigh.replace', 'neigh.del', 'route.replace', 'route.del', 'rule.add', 'rule.del', 'fdb.replace', 'fdb.del'];
  t.same([...kinds].sort(), [...all].sort());
});

t.test('the planner emits typed ops: devices first, fdb entries last', async (t) => {
  const ops = planChanges(v4Want(), bareKernel());
  t.same(ops.slice(0, 3), [
    { op: 'vxlan.add', name: 'vtep1024', vni: 1024, port: 64000 },
    { op: 'link.set', name: 'vtep1024', mac: '70:b3:d5:80:00:01', mtu: 1450, up: true },
    { op: 'addr.replace', dev: 'vtep1024', cidr: '44.128.0.1/20', nodad: false },
  ]);
  t.match(ops, [{}, {}, {}, { op: 'bridge.add', name: 'm-dcos' }]);
  t.ok(ops.some((o) => o.op === 'route.replace' && o.table === 42 && o.dst === '10.0.0.2/32' && o.via === '44.128.0.2'), 'table-42 route');
  t.ok(ops.some((o) => o.op === 'rule.add' && o.src === '9.0.0.0/8' && o.table === 42 && o.pref === 32000), 'policy rule');
  const firstFdb = ops.findIndex((o) => o.op.startsWith('fdb.'));
  t.ok(firstFdb > 0 && ops.slice(firstFdb).every((o) => o.op.startsWith('fdb.')), 'fdb ops come last (the bridge batch runs after the ip batch)');
});

t.test('rendering is per op, and only fdb ops go to the bridge batch', async (t) => {
  t.equal(opText({ op: 'link.set', name: 'm-x', mtu: 1400, up: false }), 'link set m-x mtu 1400');
  t.equal(opText({ op: 'route.del', dst: '9.0.0.0/24', table: 254 }), 'route del 9.0.0.0/24');
  t.same(renderBatch([{ op: 'fdb.del', dev: 'v', mac: '70:b3:d5:80:00:02', dst: '10.0.0.2' }, { op: 'neigh.del', dev: 'v', ip: '44.128.0.2' }]), {
    ip: ['neigh del 44.128.0.2 dev v'],
    bridge: ['fdb del 70:b3:d5:80:00:02 dev v dst 10.0.0.2 self'],
  });
  t.same(renderBatch([]), { ip: [], bridge: [] });
});

t.test('IPv6 policy routing: table 42 for remote agents\' IPv6 addresses, `ip -6 rule` for subnet6', async (t) => {
  const net = { key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420, subnet6: 'fd01:b::/64', prefix6: 80 };
  const agent = (n: number, ip6?: string) => ({
    key: `a${n}`, agent_id: `a${n}`, ip: `10.0.0.${n}`, ...(ip6 ? { ip6 } : {}), vtep_ip: `44.128.0.${n}/20`, vtep_mac: `70:b3:d5:80:00:0${n}`,
    subnets: { dcos: { subnet: `9.0.${n}.0/24`, bridge: `9.0.${n}.0/25`, subnet6: `fd01:b:0:0:${n}::/80`, bridge6: `fd01:b:0:0:${n}::/81` } },
  });
  const view = { version: 1, overlay: DEFAULT_OVERLAY, parts: { vips: [], zones: [], networks: [net], overlay_agents: [agent(1, 'fd00:5e::1'), agent(2, 'fd00:5e::2'), agent(3)], isolation_rules: [], network_policies: [], masters: [] } } as unknown as Snapshot;
  const w = desiredState(view, 'a1');
  t.same(w.rules, ['9.0.0.0/8', 'fd01:b::/64'], 'a policy rule per family');
  t.same(w.table42, [
    { dst: '10.0.0.2/32', via: '44.128.0.2' },
    { dst: 'fd00:5e::2/128', via: 'fd01:a::2c80:2' },
    { dst: '10.0.0.3/32', via: '44.128.0.3' },
  ], 'a remote agent\'s IPv6 address goes via its v6 VTEP; one without an IPv6 address gets only the v4 route');
  const plan = renderBatch(planChanges(w, bareKernel()));
  t.ok(plan.ip.includes('-6 rule add from fd01:b::/64 lookup 42 pref 32000'), 'the v6 rule renders as `ip -6 rule` (run in an `ip -6 -batch`)');
  t.ok(plan.ip.includes('route replace fd00:5e::2/128 via fd01:a::2c80:2 dev vtep1024 onlink table 42'));
  const v4only = { ...view, parts: { ...view.parts, networks: [{ ...net, subnet6: undefined, prefix6: undefined }] } } as unknown as Snapshot;
  const w4 = desiredState(v4only, 'a1');
  t.same([w4.rules, w4.table42.filter((r) => r.dst.includes(':'))], [['9.0.0.0/8'], []], 'no IPv6 network: no IPv6 policy routing');
});
