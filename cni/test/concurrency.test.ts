/**
 * IPAM through the real plugin executable: 100 concurrent ADD processes get 100 distinct
 * addresses, exhaustion names the subnet, a new process (agent or plugin restart) sees the
 * allocations on disk, and concurrent DELs release everything.
 */
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { requireNetns, requireTools, createNetns, uniqueName } from '../../test/lib/index.js';
import { config, env, execPlugin, manyNetns, netName, plugin as inProcess, tempDir } from './helpers.js';
import { pluginBinDir } from './bundle.js';

requireNetns();
requireTools('ip', 'nft', 'nsenter');

const ipFiles = async (dir: string) => (await readdir(dir)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));

t.test('100 concurrent ADDs into one subnet', async (t) => {
  const { plugin } = await pluginBinDir(t);
  const host = await createNetns(t, 'h');
  const dataDir = await tempDir(t);
  const name = netName();
  const conf = config({ cniVersion: '1.1.0', name, dataDir, subnet: '10.232.0.0/24' });
  const tasks = await manyNetns(t, 100);
  const ids = tasks.map(() => uniqueName('c'));
  const results = await Promise.all(tasks.map((ns, i) => execPlugin(plugin, host, env('ADD', ids[i]!, ns), conf)));
  const failed = results.filter((r) => r.code !== 0);
  t.same(failed.map((r) => r.out ?? r.stderr), [], 'every ADD succeeded');
  const ips = results.map((r) => r.out?.ips?.[0]?.address);
  t.equal(new Set(ips).size, 100, '100 distinct addresses');
  t.notOk(ips.includes('10.232.0.1/24'), 'gateway never handed out');
  t.equal((await ipFiles(join(dataDir, name))).length, 100, '100 allocations on disk');

  // A restart: a new process sees the same store, returns the same address for a known
  // attachment and a fresh one for a new attachment.
  const again = await execPlugin(plugin, host, env('ADD', ids[7]!, tasks[7]!), conf);
  t.equal(again.out.ips[0].address, ips[7], 'known attachment keeps its address after restart');
  const extra = await createNetns(t, 't');
  const fresh = await execPlugin(plugin, host, env('ADD', uniqueName('c'), extra), conf);
  t.notOk(ips.includes(fresh.out.ips[0].address), 'a new attachment gets a new address');

  // DELs in-process (same code path, no 100 more Node start-ups on a shared machine).
  const dels = await Promise.all(tasks.map((ns, i) => inProcess(host, env('DEL', ids[i]!, ns), conf)));
  t.same(dels.filter((r) => r.code !== 0).map((r) => r.out), [], 'every DEL succeeded');
  t.equal((await ipFiles(join(dataDir, name))).length, 1, 'only the extra allocation left');
  const ports = (await host.ip('-o', 'link', 'show', 'master', `m-${name}`)).split('\n').filter((l) => l.includes('sxv'));
  t.equal(ports.length, 1, 'only the extra veth left on the bridge');
});

t.test('exhaustion is a CNI error naming the subnet', async (t) => {
  const { plugin } = await pluginBinDir(t);
  const host = await createNetns(t, 'h');
  const dataDir = await tempDir(t);
  const conf = config({ cniVersion: '1.0.0', name: netName(), dataDir, subnet: '10.233.0.0/29' });
  const tasks = await manyNetns(t, 6);
  const results = await Promise.all(tasks.map((ns) => execPlugin(plugin, host, env('ADD', uniqueName('c'), ns), conf)));
  const ok = results.filter((r) => r.code === 0);
  const bad = results.filter((r) => r.code !== 0);
  t.equal(ok.length, 5, 'five usable addresses in a /29 with a gateway');
  t.equal(bad.length, 1);
  t.match(bad[0]?.out, { cniVersion: '1.0.0', code: 100, msg: /no free address in 10\.233\.0\.0\/29/ });
});
