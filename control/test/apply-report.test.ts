/**
 * The agent's memory release waits for quiet (agent/release.ts): an AgentControl made with `onApply`
 * (cli/plugins.ts passes AgentHandle.applyingUpdate) reports each consumer's apply, from its start to
 * its end, failed ones included, with the real control-plane client applying real versions.
 */
import t from 'tap';
import { createRegistry } from '../../common/metrics.js';
import { createAgentControl, type AgentHandle, type Snapshot } from '../../contracts/index.js';
import { agentHost } from '../../test/lib/index.js';
import { controlAgentPlugin } from '../index.js';
import type { ControlClient } from '../client.js';
import { clientReaches, RecordingConsumer, SettableSource, startServer, vip } from './helpers.js';

const handle = (): AgentHandle => ({ agentId: 'a1', ip: '127.0.0.1', workDir: '/nonexistent', masters: [], registry: createRegistry(), routes: () => {} });

/** Records, at each apply, how many reported applies were open (its own included). */
class OpenCounting extends RecordingConsumer {
  seen: number[] = [];
  constructor(
    name: string,
    private readonly open: () => number,
  ) {
    super(name, ['vips']);
  }
  override async apply(view: Snapshot): Promise<void> {
    this.seen.push(this.open());
    await new Promise((r) => setImmediate(r));
    return super.apply(view);
  }
}

t.test('each consumer apply is reported from start to end, a failing one too', async (t) => {
  let open = 0;
  let begun = 0;
  const control = createAgentControl(() => {
    open++;
    begun++;
    let ended = false;
    return () => {
      if (!ended) open--;
      ended = true;
    };
  });
  const vips = new SettableSource('vips', [vip('web', '11.0.0.1', [['10.0.0.1', 31000]])]);
  const server = await startServer(t, { sources: [vips] });
  const client = controlAgentPlugin({ masters: [`127.0.0.1:${server.port}`] })(agentHost(handle(), 'control', control)) as ControlClient;
  t.teardown(() => client.stop());
  const l4lb = new OpenCounting('l4lb', () => open);
  const other = new OpenCounting('other', () => open);
  control.addConsumer(l4lb);
  control.addConsumer(other);
  await client.start();
  await clientReaches(client, (s) => s.applied > 0, 'first version');
  t.same([l4lb.seen, other.seen], [[1], [1]], 'open during each apply');
  t.equal(open, 0, 'closed after');
  t.equal(begun, 2, 'one report per consumer apply');

  other.failWith = 'refused';
  vips.set([vip('web', '11.0.0.1', [['10.0.0.2', 31000]])]);
  await clientReaches(client, (s) => s.failed !== null, 'the refused version');
  t.equal(open, 0, 'closed after a failed apply');
  t.equal(begun, 4);
});
