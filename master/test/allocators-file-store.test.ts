/**
 * Issue #27 part 4: the master's allocators on the file store it really uses (master/store/file.ts),
 * not only on a memory store. Named-VIP IPs, overlay VTEPs, subnets, networks and isolation rules
 * written by one allocator are read back identical by a new allocator on a newly opened store of the
 * same directory (a master restart), and nothing is handed out twice afterwards.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKvStore } from '../store/file.js';
import { VipAllocator } from '../../l4lb/index.js';
import { Allocator, DEFAULT_OVERLAY } from '../../overlay/index.js';
import { uniqueName } from '../../test/lib/index.js';

function workDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('fstore')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function store(dir: string): Promise<FileKvStore> {
  const s = new FileKvStore(dir);
  await s.open();
  return s;
}

t.test('named-VIP IPs survive a restart on the file store', async (t) => {
  const dir = workDir(t);
  const wanted = [
    { name: 'web.marathon', family: 4 as const },
    { name: 'api.marathon', family: 4 as const },
    { name: 'web.marathon', family: 6 as const },
  ];
  const a = new VipAllocator(await store(dir));
  const first = await a.ensure(wanted);
  const b = new VipAllocator(await store(dir));
  t.same(await b.ensure(wanted), first, 'the same IPs from a new allocator on the reopened store');
  t.same(b.allocations(), a.allocations(), 'the same records');
  const more = await b.ensure([...wanted, { name: 'db.marathon', family: 4 }]);
  t.notOk([...first.values()].includes(more.get('db.marathon/4')!), `a new name gets a new IP (${more.get('db.marathon/4')})`);
});

t.test('overlay VTEPs, subnets, networks and isolation rules survive a restart on the file store', async (t) => {
  const dir = workDir(t);
  const mk = async () => {
    const a = new Allocator({ store: await store(dir), config: DEFAULT_OVERLAY, initialNetworks: [{ key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420 }] });
    await a.load();
    return a;
  };
  const a = await mk();
  await a.addNetwork({ key: 'hr', name: 'hr', subnet: '10.10.0.0/16', prefix: 24, mtu: 1420, subnet6: 'fd01:10::/64', prefix6: 80 } as never);
  await a.ensureAgent('a1', '10.0.0.1');
  await a.ensureAgent('a2', '10.0.0.2');
  await a.putRule({ key: 'hr>dcos:tcp:80', from: 'hr', to: 'dcos', ports: [80], protocol: 'tcp' } as never);
  await a.putPolicy({ key: 'hr', network: 'hr', default: 'deny' } as never);
  const snapshot = (x: Allocator) => JSON.parse(JSON.stringify({ agents: [...x.agents.entries()], networks: [...x.networks.entries()], rules: [...x.rules.entries()], policies: [...x.policies.entries()] }));
  const before = snapshot(a);
  const b = await mk();
  t.equal(before.rules.length, 1, 'a rule stored');
  t.equal(before.policies.length, 1, 'a policy stored');
  t.ok(before.agents.every(([, g]: [string, { subnets: Record<string, unknown> }]) => g.subnets.hr), 'each agent has a slice of hr');
  t.same(snapshot(b), before, 'agents (VTEP IP and MAC, subnets), networks, rules and policies read back identical');
  t.same(await b.ensureAgent('a1', '10.0.0.1'), a.agents.get('a1'), 'an agent coming back keeps its share');
  const a3 = await b.ensureAgent('a3', '10.0.0.3');
  t.same([a3.vtep_ip, a3.subnets.dcos!.subnet], ['44.128.0.3/20', '9.0.2.0/24'], 'nothing handed out twice');
});
