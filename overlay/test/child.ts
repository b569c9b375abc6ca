/**
 * Test fixture: the overlay agent component as a real process, run inside an agent namespace
 * (`ip netns exec NS node --import tsx overlay/test/child.ts AGENT_ID`). It programs its own
 * namespace with the driver SEXTANT_OVERLAY_KERNEL selects. Commands arrive as JSON lines on stdin
 * (`{"id":1,"apply":<snapshot>}` or `{"id":2,"sync":true}`); each gets one JSON line on stdout.
 */
import { createInterface } from 'node:readline';
import { createRegistry } from '../../common/index.js';
import { OverlayAgentComponent } from '../index.js';
import type { Snapshot } from '../../contracts/index.js';

const agentId = process.argv[2] ?? 'agent';
const c = new OverlayAgentComponent({ agentId, registry: createRegistry(), reconcileMs: 3_600_000 });
await c.start();
process.stdout.write(`ready kernel=${c.kernel}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const msg = JSON.parse(line) as { id: number; apply?: Snapshot; sync?: boolean };
  try {
    if (msg.apply) await c.apply(msg.apply);
    const report = msg.sync ? await c.sync(true) : c.lastReport;
    process.stdout.write(JSON.stringify({ id: msg.id, ok: true, lines: report ? report.plan.ip.length + report.plan.bridge.length : 0, last_error: c.lastError ?? null }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: msg.id, ok: false, error: (e as Error).message }) + '\n');
  }
}
await c.stop();
