import t from 'tap';
import type { AgentStatus, ControlStatus } from '../../control/index.js';
import { waitAgentsApplied, type WaitClock } from '../net-wait.js';

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

t.test('done once every connected agent applied the first version after the write; progress counts them', async (t) => {
  const f = fake([
    { history: 'h', version: 7, agents: [agent('a1', 7), agent('a2', 7)] }, // not yet published
    { history: 'h', version: 8, agents: [agent('a1', 8), agent('a2', 7), agent('gone', 3, { connected: false })] },
    { history: 'h', version: 9, agents: [agent('a1', 9), agent('a2', 8), agent('gone', 3, { connected: false })] },
  ]);
  const seen: string[] = [];
  const w = await waitAgentsApplied(f.read, { since: 7, timeoutMs: 30_000, pollMs: 100, clock: f.clock, onProgress: (d, n) => seen.push(`${d}/${n}`) });
  t.same(w, { waited: 'applied', version: 8, agents: 2 }, 'the target is version 8; a later version counts as applied; a disconnected agent is not waited for');
  t.same(seen, ['0/2', '1/2', '2/2']);
});

t.test('a timeout names the agents that lag, and stops at the deadline of the injected clock', async (t) => {
  const f = fake([{ history: 'h', version: 8, agents: [agent('a1', 8), agent('a2', 7)] }]);
  const w = await waitAgentsApplied(f.read, { since: 7, timeoutMs: 1000, pollMs: 100, clock: f.clock });
  t.same(w, { waited: 'timeout', version: 8, lagging: ['a2 applied version 7 of 8'] });
  t.equal(f.now(), 1000, 'gave up at the deadline');
});

t.test('no version published after the write: a timeout saying so', async (t) => {
  const f = fake([{ history: 'h', version: 7, agents: [agent('a1', 7)] }]);
  const w = await waitAgentsApplied(f.read, { since: 7, timeoutMs: 500, pollMs: 100, clock: f.clock });
  t.equal(w.waited, 'timeout');
  t.match(w, { version: null, lagging: [/no control-plane version after 7/] });
});

t.test('an agent that refused the version ends the wait at once', async (t) => {
  const f = fake([{ history: 'h', version: 8, agents: [agent('a1', 8), agent('a2', 7, { failed: 8, error: 'bad subnet' })] }]);
  const w = await waitAgentsApplied(f.read, { since: 7, timeoutMs: 30_000, clock: f.clock });
  t.same(w, { waited: 'refused', version: 8, lagging: ['a2 refused version 8: bad subnet'] });
  t.equal(f.reads(), 1);
});

t.test('no control plane on the master: nothing to wait for', async (t) => {
  const f = fake([undefined]);
  t.same(await waitAgentsApplied(f.read, { since: 0, timeoutMs: 1000, clock: f.clock }), { waited: 'no-control' });
});
