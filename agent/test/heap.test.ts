/**
 * The agent's heap setting (agent/heap.ts), in fresh Node processes: with it the young generation
 * does not grow under a burst of garbage that makes it grow without it.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { spawnTracked } from '../../test/lib/proc.js';
import { AGENT_V8_FLAGS } from '../heap.js';

const CHILD = fileURLToPath(new URL('./fixtures/heap-child.ts', import.meta.url));

async function young(t: Test, mode: 'limit' | 'none'): Promise<{ before: number; after: number }> {
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', CHILD, mode]);
  await p.waitFor(/"after"/, 60_000);
  return JSON.parse(/\{.*"after".*\}/.exec(p.output())![0]) as { before: number; after: number };
}

t.test('the young generation stays at its size with the agent setting, grows without it', async (t) => {
  t.same(AGENT_V8_FLAGS, ['--semi-space-growth-factor=1']);
  const none = await young(t, 'none');
  const limit = await young(t, 'limit');
  t.ok(none.after > none.before, `without: grows (${none.before} -> ${none.after} bytes)`);
  t.ok(limit.after <= limit.before, `with: does not grow (${limit.before} -> ${limit.after} bytes)`);
  t.ok(limit.after * 4 <= none.after, `with: at most a quarter of the grown size (${limit.after} vs ${none.after})`);
});
