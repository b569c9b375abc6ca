/**
 * The churn log's replay check (test/lib/churn.ts) on hand-made logs: it must catch a missing
 * acknowledged write, a refused write that is there, a wrong scale, duplicates, and split brain,
 * and leave alone entities with an unknown outcome.
 */
import t from 'tap';
import { acksAfterTakeover, verifyChurn, type ChurnState, type ChurnWrite } from './lib/churn.js';

let seq = 0;
const w = (kind: ChurnWrite['kind'], target: string, outcome: ChurnWrite['outcome'], extra: Partial<ChurnWrite> = {}): ChurnWrite => ({
  seq: seq++, kind, target, outcome, to: '10.0.0.1', ...(outcome === 'ack' ? { by: '10.0.0.1', status: 200 } : { status: 503 }), sentAt: seq * 10, doneAt: seq * 10 + 5, ...extra,
});
const state = (s: Partial<ChurnState>): ChurnState => ({ apps: [], networks: [], rulePorts: [], vips: [], ...s });

t.test('a state that is the log replayed passes', async (t) => {
  const log = [w('app-create', '/c/a1', 'ack', { instances: 0 }), w('app-scale', '/c/a1', 'ack', { instances: 1 }), w('app-create', '/c/a2', 'refused', { instances: 0 }), w('network-create', 'c3', 'ack'), w('rule-add', '20004', 'ack'), w('rule-remove', '20004', 'ack'), w('app-create', '/c/a5', 'unknown', { instances: 0 })];
  const r = verifyChurn(log, state({ apps: [{ id: '/c/a1', instances: 1, tasks: 1 }, { id: '/c/a5', instances: 0, tasks: 0 }], networks: ['c3'] }));
  t.same(r.problems, []);
  t.equal(r.certain, 4);
  t.equal(r.uncertain, 1);
});

t.test('each kind of difference is named', async (t) => {
  const log = [w('app-create', '/c/a1', 'ack', { instances: 0 }), w('app-create', '/c/a2', 'refused', { instances: 0 }), w('app-create', '/c/a3', 'ack', { instances: 0 }), w('app-scale', '/c/a3', 'ack', { instances: 1 }), w('network-create', 'c4', 'ack'), w('network-delete', 'c4', 'ack'), w('rule-add', '20005', 'ack')];
  const r = verifyChurn(log, state({ apps: [{ id: '/c/a2', instances: 0, tasks: 0 }, { id: '/c/a3', instances: 0, tasks: 2 }], networks: ['c4', 'c4'], vips: [{ name: 'x', ip: '11.0.0.1' }, { name: 'y', ip: '11.0.0.1' }] }));
  const text = r.problems.join('\n');
  t.match(text, /app \/c\/a1 is missing/);
  t.match(text, /app \/c\/a2 is there/);
  t.match(text, /app \/c\/a3 has instances 0, the last acknowledged write asked 1/);
  t.match(text, /network c4 is there, the log says it should not be/);
  t.match(text, /network c4 is listed twice/);
  t.match(text, /isolation rule on port 20005 is missing/);
  t.match(text, /VIP address 11.0.0.1 is allocated to two names/);
});

t.test('split brain: an ack by the old leader sent after the new one acknowledged', async (t) => {
  const log: ChurnWrite[] = [
    { seq: 1, kind: 'app-create', target: '/c/a1', outcome: 'ack', by: 'old', to: 'old', sentAt: 100, doneAt: 110 },
    { seq: 2, kind: 'app-create', target: '/c/a2', outcome: 'ack', by: 'new', to: 'new', sentAt: 200, doneAt: 210 },
    { seq: 3, kind: 'app-create', target: '/p/a1', outcome: 'ack', by: 'old', to: 'old', sentAt: 205, doneAt: 260 },
    { seq: 4, kind: 'app-create', target: '/p/a2', outcome: 'ack', by: 'old', to: 'old', sentAt: 220, doneAt: 230 },
  ];
  const r = acksAfterTakeover(log, 'old', 'new', 150);
  t.equal(r.length, 1, 'only the write sent after the new leader answered counts');
  t.match(r[0], /#4 .* acknowledged by old/);
  t.same(acksAfterTakeover(log.slice(0, 3), 'old', 'new', 150), []);
  t.same(acksAfterTakeover(log, 'old', 'new', 300), [], 'acks of earlier terms (before the cut) do not count');
});
