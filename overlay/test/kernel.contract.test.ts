/**
 * Both overlay kernel drivers pass one contract (kernel-contract.ts) on a real kernel, each in a
 * fresh namespace: iproute2 in this process (`ip netns exec NS`), netlink in a child process inside the
 * namespace (driver-child.ts; a netlink socket belongs to its opener's namespace). Then the two
 * namespaces must have been left in identical states after every step.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createNetns, requireNetns, requireTools, spawnTracked, type Netns } from '../../test/lib/index.js';
import { KernelError } from '../errors.js';
import { IprouteDriver, type KernelDriver, type KernelLink, type KernelState } from '../kernel.js';
import type { Op } from '../ops.js';
import { runKernelContract } from './kernel-contract.js';
import type { KernelView } from './kernel-view.js';

requireNetns();
requireTools('ip', 'bridge');

const CHILD = fileURLToPath(new URL('./driver-child.ts', import.meta.url));

/** A driver running in driver-child.ts inside `ns`, behind the KernelDriver methods the contract uses. */
async function childDriver(t: { teardown(fn: () => unknown): void }, ns: Netns, kind: string): Promise<Pick<KernelDriver, 'apply' | 'dump'>> {
  const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', CHILD, kind], { stdio: ['pipe', 'pipe', 'pipe'] });
  await p.waitFor(new RegExp(`^ready driver=${kind}$`, 'm'), 20000);
  let seq = 0;
  const send = async (msg: object): Promise<{ ok: boolean; name?: string; error?: string; state?: Omit<KernelState, 'links'> & { links: KernelLink[] } }> => {
    const n = ++seq;
    p.child.stdin!.write(JSON.stringify({ id: n, ...msg }) + '\n');
    const m = await p.waitFor(new RegExp(`^\\{"id":${n},.*$`, 'm'), 20000);
    const r = JSON.parse(m[0]);
    if (!r.ok) throw Object.assign(new KernelError(`${kind} child`, r.error), { name: r.name });
    return r;
  };
  return {
    async apply(ops: Op[]) {
      await send({ apply: ops });
    },
    async dump(vtep: string) {
      const s = (await send({ dump: vtep })).state!;
      return { ...s, links: new Map(s.links.map((l) => [l.name, l])) };
    },
  };
}

const views: Record<string, KernelView[]> = {};

t.test('iproute2 driver (ip netns exec, batch mode)', async (t) => {
  const ns = await createNetns(t, 'ki');
  views.iproute2 = await runKernelContract(t, { ns, driver: new IprouteDriver(ns.name) });
});

t.test('netlink driver (rtnetlink, in a child inside the namespace)', async (t) => {
  const ns = await createNetns(t, 'kn');
  views.netlink = await runKernelContract(t, { ns, driver: await childDriver(t, ns, 'netlink') });
});

t.test('both drivers left identical kernels after every step', async (t) => {
  t.ok(views.iproute2 && views.netlink, 'both contracts ran to the end');
  t.same(views.netlink, views.iproute2);
});
