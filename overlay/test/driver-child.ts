/**
 * Test fixture: one overlay kernel driver as a real process inside a namespace
 * (`ip netns exec NS node --import tsx overlay/test/driver-child.ts iproute2|netlink`): a netlink
 * socket belongs to the namespace of the process that opened it, so this is how a test drives the
 * netlink driver in a namespace of its own. JSON lines on stdin, `{"id":1,"apply":[ops]}` or
 * `{"id":2,"dump":"vtep1024"}`; each gets one JSON line on stdout (a dump's links as an array).
 */
import { createInterface } from 'node:readline';
import { createDriver, type KernelKind } from '../driver.js';
import type { Op } from '../ops.js';

const kind = (process.argv[2] ?? 'netlink') as KernelKind;
const driver = createDriver(kind);
process.stdout.write(`ready driver=${kind}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const msg = JSON.parse(line) as { id: number; apply?: Op[]; dump?: string };
  try {
    if (msg.apply) await driver.apply(msg.apply);
    const state = msg.dump !== undefined ? await driver.dump(msg.dump) : undefined;
    const out = state ? { ...state, links: [...state.links.values()] } : undefined;
    process.stdout.write(JSON.stringify({ id: msg.id, ok: true, ...(out ? { state: out } : {}) }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: msg.id, ok: false, name: (e as Error).name, error: (e as Error).message }) + '\n');
  }
}
driver.close?.();
