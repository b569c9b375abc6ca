/**
 * The failure threshold and the drain decision on an injected clock: a backend over the threshold
 * (with enough connections) is unhealthy with a reason, healthy again only under the lower mark or
 * after the hold without evidence; with drain on, the VIP source (l4lb, through the relay the
 * composition root shares) serves it with weight 0, never the last live backend.
 */
import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import { createVipDrainRelay, type NodeNetMetrics, type Vip } from '../../contracts/index.js';
import { mapLimit } from '../../diag/index.js';
import { vipSource } from '../../l4lb/index.js';
import { NetMetricsAggregator } from '../aggregator.js';
import { BackendJudge, type Evidence } from '../judge.js';
import { DrainPolicy } from '../drain.js';

const VIP = '11.0.0.1:80/tcp';
const K1 = `${VIP}|10.0.1.2:8080`;
const ev = (judged: number, failures: number, nodes: string[] = []): Evidence => ({ judged, failures, failingNodes: nodes });

t.test('threshold, minimum connections, hysteresis and hold', async (t) => {
  const j = new BackendJudge({ threshold: 0.5, minConnections: 10, holdMs: 60_000 });
  const rows: [string, number, Evidence | undefined, boolean][] = [
    ['below the minimum connections: not judged', 0, ev(9, 9), false],
    ['at the threshold on enough connections: unhealthy', 5_000, ev(10, 5, ['10.0.0.2']), true],
    ['between the marks (0.3): stays unhealthy (hysteresis)', 10_000, ev(10, 3), true],
    ['no evidence, within the hold: stays', 60_000, undefined, true],
    ['under the lower mark (0.2 < 0.25): healthy again', 65_000, ev(10, 2), false],
    ['0.4, under the threshold: stays healthy', 70_000, ev(10, 4), false],
    ['1.0: unhealthy again', 75_000, ev(20, 20), true],
    ['no evidence for the hold (60 s after the last bad judgement): healthy (retried)', 135_000, ev(2, 2), false],
  ];
  for (const [name, at, e, want] of rows) {
    j.evaluate(new Map(e ? [[K1, e]] : []), at);
    t.equal(j.verdict(K1).unhealthy, want, name);
  }
  j.evaluate(new Map([[K1, ev(10, 6, ['10.0.0.2', '10.0.0.3'])]]), 200_000);
  t.match(j.verdict(K1).reason, /failure rate 0\.60 \(6 of 10 connections in the last minute, seen from 10\.0\.0\.2, 10\.0\.0\.3\) is at or above the threshold 0\.5/);
  t.throws(() => new BackendJudge({ threshold: 0 }), /must be a failure rate in \(0, 1\]/);
  t.throws(() => new BackendJudge({ threshold: 1.5 }), /must be a failure rate/);
});

const vip = (backends: [string, number][]): Vip => ({
  key: 'tcp/11.0.0.1:80',
  ip: '11.0.0.1',
  port: 80,
  protocol: 'tcp',
  backends: backends.map(([b, weight]) => ({ ip: b.split(':')[0]!, port: Number(b.split(':')[1]), weight, task_id: `t-${b}`, agent_id: 'a1' })),
});
const weights = (v: Vip[]) => v[0]!.backends.map((b) => `${b.ip}:${b.port}=${b.weight}`).join(' ');

t.test('the drain decision: unhealthy backends at weight 0, never the last live one', async (t) => {
  const rows: [string, boolean, Record<string, number>, [string, number][], string][] = [
    ['drain off: nothing changes', false, { '10.0.1.2:8080': 1 }, [['10.0.1.2:8080', 1], ['10.0.1.3:8080', 1]], '10.0.1.2:8080=1 10.0.1.3:8080=1'],
    ['one of two failing: drained', true, { '10.0.1.2:8080': 1 }, [['10.0.1.2:8080', 1], ['10.0.1.3:8080', 1]], '10.0.1.2:8080=0 10.0.1.3:8080=1'],
    ['both failing: the one failing least stays', true, { '10.0.1.2:8080': 0.9, '10.0.1.3:8080': 0.6 }, [['10.0.1.2:8080', 1], ['10.0.1.3:8080', 1]], '10.0.1.2:8080=0 10.0.1.3:8080=1'],
    ['the only live backend fails, the other is at 0 upstream: kept', true, { '10.0.1.2:8080': 1 }, [['10.0.1.2:8080', 1], ['10.0.1.3:8080', 0]], '10.0.1.2:8080=1 10.0.1.3:8080=0'],
    ['a single backend is never drained', true, { '10.0.1.2:8080': 1 }, [['10.0.1.2:8080', 1]], '10.0.1.2:8080=1'],
  ];
  for (const [name, enabled, failing, backends, want] of rows) {
    const d = new DrainPolicy({ enabled, unhealthy: (v, b) => (v === VIP ? failing[b] : undefined) });
    const input = [vip(backends)];
    const before = JSON.stringify(input);
    t.equal(weights(d.apply(input)), want, name);
    t.equal(JSON.stringify(input), before, `${name}: the input is not changed`);
  }
});

function node(ip: string, since: number, counts: Record<string, [number, number]>): NodeNetMetrics {
  return {
    node: ip,
    driver: 'userspace',
    measures: { connections: true, failures: true, bytes: true, latency: false },
    since,
    at: since,
    vips: [{ vip: VIP, backends: Object.entries(counts).map(([backend, [connections, failures]]) => ({ backend, connections, failures, bytes: 0 })) }],
  };
}

t.test('end to end on a fake clock: polls -> unhealthy -> the VIP source drains it -> it is retried after the hold', async (t) => {
  const clock = new FakeClock(1_700_000_000_000);
  const since = clock.now() + 1; // counters that start after the aggregator: counted from the first answer
  let answer = node('10.0.0.2', since, {});
  const a = new NetMetricsAggregator({
    targets: () => [{ ip: '10.0.0.2', url: 'http://10.0.0.2:5051' }],
    get: async () => answer,
    mapLimit,
    clock,
    drain: true,
    threshold: 0.5,
    minConnections: 10,
  });
  const relay = createVipDrainRelay();
  relay.set(a.drain);
  const state = {
    slaves: [{ id: 'a1', pid: 'slave(1)@10.0.0.2:5051' }],
    frameworks: [
      {
        name: 'marathon',
        tasks: ['31000', '31001'].map((p) => ({ id: `web.${p}`, slave_id: 'a1', state: 'TASK_RUNNING', statuses: [], discovery: { ports: { ports: [{ number: Number(p), protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '11.0.0.1:80' }] } }] } } })),
      },
    ],
  };
  const handle = { store: { get: async () => undefined, put: async () => {}, delete: async () => {}, list: async () => [] }, state: () => state, onChange: () => () => undefined, routes: () => undefined } as never;
  const src = vipSource(handle, { clock, drain: relay, routes: false });
  let rebuilt = 0;
  src.onChange(() => rebuilt++);
  const served = async () => weights(await src.entries());
  t.equal(await served(), '10.0.0.2:31000=1 10.0.0.2:31001=1', 'both backends live before any metrics');

  clock.advance(5000);
  answer = node('10.0.0.2', since, { '10.0.0.2:31000': [10, 0], '10.0.0.2:31001': [10, 9] });
  await a.poll();
  t.equal(rebuilt, 1, 'a verdict changed: the source was told to rebuild');
  t.same(a.judge.unhealthyKeys(), [`${VIP}|10.0.0.2:31001`]);
  t.equal(await served(), '10.0.0.2:31000=1 10.0.0.2:31001=0', 'the failing backend is served with weight 0');

  clock.advance(5000);
  answer = node('10.0.0.2', since, { '10.0.0.2:31000': [40, 0], '10.0.0.2:31001': [10, 9] });
  await a.poll();
  t.equal(rebuilt, 1, 'no new verdict: no rebuild');
  t.equal(await served(), '10.0.0.2:31000=1 10.0.0.2:31001=0', 'still drained (no traffic to judge it by, within the hold)');

  // The failures stay in the minute window until +65 s (last judged failing at +60 s); the hold (60 s) runs from there.
  const t0 = clock.now() - 10_000;
  while (clock.now() < t0 + 115_000) {
    clock.advance(5000);
    await a.poll();
  }
  t.same(a.judge.unhealthyKeys(), [`${VIP}|10.0.0.2:31001`], 'at +115 s: still unhealthy (the hold runs from the last failing judgement)');
  clock.advance(5000);
  await a.poll();
  t.same(a.judge.unhealthyKeys(), [], 'at +120 s, a hold after the last evidence: healthy again');
  t.equal(rebuilt, 2);
  t.equal(await served(), '10.0.0.2:31000=1 10.0.0.2:31001=1', 'and served with its weight again (retried)');

  relay.set(undefined);
  t.equal(rebuilt, 3, 'taking the aggregator out of the relay rebuilds too');
});

t.test('a poll that throws is logged and the next one still comes', async (t) => {
  const clock = new FakeClock(1_700_000_000_000);
  let calls = 0;
  const errors: string[] = [];
  const log = { error: (event: string) => errors.push(event), warn: () => {}, info: () => {} } as never;
  let asked = 0;
  const a = new NetMetricsAggregator({
    targets: () => {
      if (++calls === 1) throw new Error('state unreadable');
      return [{ ip: '10.0.0.2', url: 'http://10.0.0.2:5051' }];
    },
    get: async () => (asked++, node('10.0.0.2', 0, {})),
    mapLimit,
    clock,
    log,
    intervalMs: 1000,
  });
  a.start();
  t.teardown(() => a.stop());
  const settle = () => new Promise((r) => setImmediate(r));
  clock.advance(0);
  await settle();
  t.same(errors, ['netmetrics_poll_failed'], 'the failed poll is logged');
  clock.advance(1000);
  await settle();
  t.equal(asked, 1, 'the next poll asked the agent');
});
