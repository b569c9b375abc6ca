/**
 * Issue 30: `sextant node ls` through an entry point reads the agents under `ops:nodes` and their health
 * at the entry point's `/system/health/v1/report` (route system_health), under `ops:system-health`:
 * a user holding those two (and not `ops:mesos`) sees each agent's health; without system-health the list
 * still prints, without health. Real master, entry point, and the built CLI.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RESOURCES } from '../index.js';
import { FakeAgent } from '../../test/lib/fake-agent.js';
import { grant, sextantJs, spawnMaster, startEntry, tmpDir } from './lib.js';

t.setTimeout(120_000);

t.test('node ls through the entry point: health under system-health', async (t) => {
  const m = await spawnMaster(t);
  const e = await startEntry(t, m);
  const agent = new FakeAgent({ ip: m.ip, master: `${m.ip}:${m.port}`, hostname: 'node-ls.test' });
  await agent.start();
  t.teardown(() => agent.stop());
  await agent.register();
  const dir = tmpDir(t, 'cli');
  const ca = path.join(dir, 'ca.crt');
  fs.writeFileSync(ca, e.ca);
  const count = async (route: string) => (await e.registry.getSingleMetric('sextant_entry_requests_total')!.get()).values.filter((v) => v.labels.route === route).reduce((s, v) => s + v.value, 0);
  const ls = async (uid: string) => {
    // not spawnSync: the entry point runs in this process
    const r = await promisify(execFile)(process.execPath, [sextantJs, 'node', 'ls', '--json', '--url', e.url, '--ca', ca], { encoding: 'utf8', env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, SEXTANT_TOKEN: await e.authority.token(uid) }, timeout: 60_000 });
    return (JSON.parse(r.stdout) as { slaves: { id: string; health: unknown }[] }).slaves;
  };

  e.authority.user('ops', [grant(RESOURCES.nodes, 'read'), grant(RESOURCES.health, 'read')]);
  const before = await count('system_health');
  const slaves = await ls('ops');
  t.equal(slaves.length, 1, 'the agent listed');
  t.equal(slaves[0]!.id, agent.id);
  t.not(slaves[0]!.health, null, 'its health shown: read under system-health, without ops:mesos');
  t.equal(await count('system_health') - before, 1, 'the health read came by the system_health route (/system/health/v1/report)');

  e.authority.user('lister', [grant(RESOURCES.nodes, 'read'), grant(RESOURCES.mesos, 'read')]);
  const plain = await ls('lister');
  t.equal(plain.length, 1, 'without system-health: the agents still listed');
  t.equal(plain[0]!.health, null, 'without their health (ops:mesos does not grant it)');
});
