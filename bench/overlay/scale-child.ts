/**
 * Bench fixture: run inside a fresh namespace (`ip netns exec NS node --import tsx scale-child.ts`);
 * measures with the driver SEXTANT_OVERLAY_KERNEL selects and prints one `result {json}` line.
 */
import { createRegistry } from '../../common/index.js';
import { OverlayAgentComponent } from '../../overlay/agent.js';
import { measureScale } from './scale.js';

const a = new OverlayAgentComponent({ agentId: 'agent-0', registry: createRegistry(), reconcileMs: 3_600_000 });
await a.start();
try {
  process.stdout.write(`result ${JSON.stringify(await measureScale(a))}\n`);
} finally {
  await a.stop();
}
