import t from 'tap';
import type { AgentStatus, ControlStatus } from '../../control/index.js';
import type { IncomingHttpHeaders } from 'node:http';
import { carriedVersion, waitAgentsApplied, type WaitClock } from '../net-wait.js';

const agent = (id: string, applied: number, o: Partial<AgentStatus> = {}): AgentStatus => ({
  agent_id: id, connected: true, peer: '', parts: [], history: 'h', last_sent: applied, applied, failed: null, error: null, lag: 0, connected_at: '', last_ack_at: null, ...o,
});

/** A clock that moves only when the wait sleeps, and a reader that plays `steps` in order (the last repeats). */
function fake(steps: (ControlStatus | undefined)[]) {
  let now = 0;
  let i = 0;
  const clock: WaitClock = { now: () => now, sleep: async (ms) => void (now += ms) };
  const read = async () => steps[Math.min(i++, steps.length - 1)];
  return { clock, read, reads: () => i, now: () => now };
}

t.test('done once every connected agent applied the version the write named, not one a concurrent writer published first', async (t) => {
  const f = fake([
    { history: 'h', version: 8, agents: [agent('a1', 8), agent('a2', 8)] }, // another writer's version, before ours
    { history: 'h', version: 9, agents: [agent('a1', 9), agent('a2', 8), agent('gone', 3, { connected: false })] },
    { history: 'h', version: 10, agents: [agent('a1', 10), agent('a2', 9), agent('gone', 3, { connected: false })] },
  ]);
  const seen: string[] = [];
  const w = await waitAgentsApplied(f.read, { version: 9, timeoutMs: 30_000, pollMs: 100, clock: f.clock, onProgress: (d, n) => seen.push(`${d}/${n}`) });
  t.same(w, { waited: 'applied', version: 9, agents: 2 }, 'the target is version 9; a later version counts as applied; a disconnected agent is not waited for');
  t.same(seen, ['0/2', '1/2', '2/2'], 'version 8 everywhere did not end it');
  t.equal(f.reads(), 3);
});

t.test('an idempotent write names the version already carrying it: done at the first read', async (t) => {
  const f = fake([{ history: 'h', version: 7, agents: [agent('a1', 7), agent('a2', 7)] }]);
  t.same(await waitAgentsApplied(f.read, { version: 7, timeoutMs: 30_000, pollMs: 100, clock: f.clock }), { waited: 'applied', version: 7, agents: 2 });
  t.same([f.reads(), f.now()], [1, 0], 'one read, no pause');
});

t.test('a timeout names the agents that lag, and stops at the deadline of the injected clock', async (t) => {
  const f = fake([{ history: 'h', version: 8, agents: [agent('a1', 8), agent('a2', 7)] }]);
  const w = await waitAgentsApplied(f.read, { version: 8, timeoutMs: 1000, pollMs: 100, clock: f.clock });
  t.same(w, { waited: 'timeout', version: 8, lagging: ['a2 applied version 7 of 8'] });
  t.equal(f.now(), 1000, 'gave up at the deadline');
});

t.test('an agent that refused the version ends the wait at once', async (t) => {
  const f = fake([{ history: 'h', version: 8, agents: [agent('a1', 8), agent('a2', 7, { failed: 8, error: 'bad subnet' })] }]);
  const w = await waitAgentsApplied(f.read, { version: 8, timeoutMs: 30_000, clock: f.clock });
  t.same(w, { waited: 'refused', version: 8, lagging: ['a2 refused version 8: bad subnet'] });
  t.equal(f.reads(), 1);
});

t.test('no control plane on the master: nothing to wait for', async (t) => {
  const f = fake([undefined]);
  t.same(await waitAgentsApplied(f.read, { version: 1, timeoutMs: 1000, clock: f.clock }), { waited: 'no-control' });
});

t.test('the version a write answer names: X-Sextant-Control-Version, a whole number', async (t) => {
  const rows: [IncomingHttpHeaders, number | undefined][] = [
    [{ 'x-sextant-control-version': '12' }, 12],
    [{ 'x-sextant-control-version': '0' }, 0],
    [{}, undefined],
    [{ 'x-sextant-control-version': 'twelve' }, undefined],
    [{ 'x-sextant-control-version': '1.5' }, undefined],
    [{ 'x-sextant-control-version': '' }, undefined],
  ];
  for (const [h, want] of rows) t.equal(carriedVersion(h), want, JSON.stringify(h));
});
