/**
 * Records stored before validation existed (or written by hand) that break today's rules are
 * reported once each at start (`stored_record_invalid` with the reason) and skipped: the app is
 * not scheduled, the network is not handed out (not in the API, not in the snapshot parts). The
 * records stay in the store for the operator to fix or delete.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, FakeClock, requestJson, setLogSink } from '../../common/index.js';
import { OverlayMaster } from '../../overlay/index.js';
import { loopbackBlock } from '../../test/lib/index.js';
import { parseApp } from '../marathon/app.js';
import { Master } from '../master.js';
import { FileKvStore } from '../store/file.js';

process.env.SEXTANT_LOG_LEVEL ??= 'warn';

t.test('bad records in a file store are reported and skipped at start', async (t) => {
  const workDir = mkdtempSync(join(tmpdir(), 'sx-stored-'));
  t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
  const good = parseApp({ id: '/good', cmd: 'sleep 1', portDefinitions: [{ port: 0, labels: { VIP_0: '/good:80' } }] });
  const hijack = parseApp({ id: '/hijack', cmd: 'sleep 1' });
  hijack.portDefinitions = [{ port: 0, protocol: 'tcp', labels: { VIP_0: '127.0.0.1:22' } }];
  const huge = { ...parseApp({ id: '/huge', cmd: 'sleep 1' }), instances: 1e9 };
  const seed = new FileKvStore(workDir);
  await seed.open();
  const v = new Date(0).toISOString();
  for (const app of [good, hijack, huge]) await seed.put(`marathon/apps${app.id}`, { app, version: v, configVersion: v });
  await seed.put('overlay/initialized', true);
  await seed.put('overlay/networks/dcos', { key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: 1420 });
  await seed.put('overlay/networks/lo', { key: 'lo', name: 'lo', subnet: '127.0.0.0/8', prefix: 24, mtu: 1420 });
  await seed.put('overlay/networks/vips', { key: 'vips', name: 'vips', subnet: '11.0.0.0/16', prefix: 24, mtu: 1420 });
  await seed.put(`overlay/rules/${encodeURIComponent('lo>dcos')}`, { key: 'lo>dcos', from: 'lo', to: 'dcos', action: 'allow' });
  await seed.flush();
  const before = JSON.stringify(await seed.list(''));

  const lines: Record<string, unknown>[] = [];
  setLogSink({ write: (l) => void lines.push(JSON.parse(l)) });
  t.teardown(() => setLogSink({ write: (l) => process.stderr.write(l) }));
  const ip = loopbackBlock();
  const master = new Master({ ip: ip(1), port: 0, marathonPort: 0, workDir, clock: new FakeClock(Date.now()), logger: createLogger('master') });
  await master.start();
  t.teardown(() => master.stop());
  const overlay = new OverlayMaster(master);
  await overlay.start();
  t.teardown(() => overlay.stop());

  const invalid = lines.filter((l) => l.event === 'stored_record_invalid');
  const reason = (key: string) => invalid.filter((l) => l.key === key).map((l) => String(l.reason));
  t.match(reason('marathon/apps/hijack'), [/127\.0\.0\.1 is loopback/], 'the hijacking app, with the reason');
  t.match(reason('marathon/apps/huge'), [/maximum 1000/], 'the app over the instances bound');
  t.match(reason('overlay/networks/lo'), [/overlaps loopback/], 'the loopback network');
  t.match(reason('overlay/networks/vips'), [/VIP range 11\.0\.0\.0\/8/], 'the network in the VIP range');
  t.match(reason(`overlay/rules/${encodeURIComponent('lo>dcos')}`), [/skipped network/], 'the rule naming a skipped network');
  t.equal(invalid.length, 5, 'each once, nothing else');

  t.same([...master.marathon.apps.keys()], ['/good'], 'only the good app is scheduled');
  const apps = (await requestJson(`http://${ip(1)}:${master.marathonPort}/v2/apps`)).body as { apps: { id: string }[] };
  t.same(apps.apps.map((a) => a.id), ['/good']);
  const nets = (await requestJson(`http://${ip(1)}:${master.port}/v1/networks`)).body as { networks: { name: string }[] };
  t.same(nets.networks.map((n) => n.name), ['dcos'], 'the API shows only the good network');
  const parts = overlay.sources();
  const networks = (await parts.find((p) => p.part === 'networks')!.entries()) as { name: string }[];
  t.same(networks.map((n) => n.name), ['dcos'], 'the snapshot part has only the good network');
  t.same(await parts.find((p) => p.part === 'isolation_rules')!.entries(), [], 'and no rule naming the bad one');
  t.equal(JSON.stringify(await master.store.list('marathon/')), JSON.stringify(JSON.parse(before).filter(([k]: [string]) => k.startsWith('marathon/'))), 'the records stay in the store');
});
