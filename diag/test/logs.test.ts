/**
 * A node serves its log files read-only, by listed name only: its own log and the log files of its
 * work dir; any other name (other files, `..`) is a 404 and no file outside the listing is read.
 * Bundle paths from node-given names never leave the bundle.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Router, serve } from '../../common/http.js';
import { listLogs, readLog } from '../logs.js';
import { safeRelative } from '../bundle.js';
import { mountNodeRoutes } from '../routes.js';
import { HealthRegistry } from '../registry.js';

t.test('listing, reading and refusing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sxdiaglogs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const wd = join(dir, 'agent-1');
  mkdirSync(join(wd, 'sandboxes', 'web.1'), { recursive: true });
  writeFileSync(join(wd, 'sandboxes', 'web.1', 'stdout'), 'hello from web\n');
  writeFileSync(join(wd, 'sandboxes', 'web.1', 'stderr'), '');
  writeFileSync(join(wd, 'cni.log'), 'cni says\n');
  writeFileSync(join(wd, 'agent.json'), '{"secret": true}');
  writeFileSync(join(dir, 'agent-1.log'), 'the process log\n');
  const src = { workDir: wd, logFile: join(dir, 'agent-1.log') };
  t.same([...(await listLogs(src)).keys()], ['process.log', 'workdir/cni.log', 'workdir/sandboxes/web.1/stderr', 'workdir/sandboxes/web.1/stdout']);
  t.equal(await readLog(src, 'process.log'), 'the process log\n');
  t.equal(await readLog(src, 'workdir/sandboxes/web.1/stdout'), 'hello from web\n');
  for (const bad of ['workdir/agent.json', 'workdir/../agent-1.log', '../agent-1/agent.json', '/etc/passwd']) t.equal(await readLog(src, bad), undefined, `${bad} is not served`);

  const router = new Router();
  mountNodeRoutes(router, { registry: new HealthRegistry(), info: () => ({ ip: '127.0.0.1', hostname: 'h', role: 'agent', mesosId: 'S0' }), logs: src });
  const srv = await serve(router, { host: '127.0.0.1', port: 0 });
  t.teardown(() => srv.close());
  const base = `http://127.0.0.1:${srv.address().port}`;
  t.same(((await (await fetch(`${base}/system/diag/v1/logs`)).json()) as { files: { name: string }[] }).files.map((f) => f.name).length, 4);
  const ok = await fetch(`${base}/system/diag/v1/logs/workdir/sandboxes/web.1/stdout`);
  t.equal(ok.status, 200);
  t.equal(await ok.text(), 'hello from web\n');
  for (const p of ['workdir/agent.json', 'workdir/%2e%2e/agent-1.log', '..%2f..%2fetc%2fpasswd']) {
    const r = await fetch(`${base}/system/diag/v1/logs/${p}`);
    t.equal(r.status, 404, `${p}: 404`);
    t.match(((await r.json()) as { message: string }).message, /no log file named/);
  }
  const h = (await (await fetch(`${base}/system/health/v1`)).json()) as Record<string, unknown>;
  t.match(h, { units: [], hostname: 'h', ip: '127.0.0.1', node_role: 'agent', mesos_id: 'S0', dcos_version: String });
});

t.test('bundle paths stay inside the bundle', async (t) => {
  const rows: [string, string][] = [
    ['process.log', 'process.log'],
    ['workdir/sandboxes/web.1/stdout', 'workdir/sandboxes/web.1/stdout'],
    ['../../etc/passwd', 'etc/passwd'],
    ['/abs/./x', 'abs/x'],
    ['a b/c$d', 'a_b/c_d'],
    ['..', 'unnamed'],
  ];
  for (const [name, want] of rows) t.equal(safeRelative(name), want, name);
});
