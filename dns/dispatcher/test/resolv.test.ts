/**
 * resolv.conf management against a temp file, and the daemon end to end inside a throwaway
 * network namespace: `sextant dispatcher` with default config creates `spartan` with
 * 198.51.100.1-3, answers ready.spartan there, and points the resolv.conf at them.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetns, eventually, loopbackBlock, requireNetns, requireTools, spawnTracked } from '../../../test/lib/index.js';
import { createLogger } from '../../../common/log.js';
import { systemClock } from '../../../common/clock.js';
import { ResolvConfManager, renderResolvConf, ensureDummyInterface } from '../index.js';
import { startDispatcher } from './helpers.js';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sx-resolv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('renderResolvConf', async (t) => {
  t.equal(renderResolvConf(['198.51.100.1', '198.51.100.2', '198.51.100.3', '9.9.9.9']).split('\n').filter((l) => l.startsWith('nameserver')).length, 3, 'at most 3 nameservers');
  t.match(renderResolvConf(['1.1.1.1']), /nameserver 1\.1\.1\.1\noptions timeout:1 attempts:3\n$/);
});

t.test('points at the addresses that answer ready.spartan, else the upstreams', async (t) => {
  const ip = loopbackBlock();
  const { udp } = await startDispatcher(t, ip(1), {});
  const path = join(tempDir(t), 'resolv.conf');
  const make = (bindIps: string[]) => new ResolvConfManager({ path, intervalMs: 1000, bindIps, port: udp, fallback: ['8.8.8.8', '8.8.4.4'], clock: systemClock, log: createLogger('test') });
  t.same(await make([ip(1), ip(7)]).sync(), [ip(1)], 'only the live address');
  t.match(readFileSync(path, 'utf8'), new RegExp(`^nameserver ${ip(1).replace(/\./g, '\\.')}$`, 'm'));
  t.same(await make([ip(7)]).sync(), ['8.8.8.8', '8.8.4.4'], 'none answers: the upstreams');
  t.match(readFileSync(path, 'utf8'), /nameserver 8\.8\.8\.8\nnameserver 8\.8\.4\.4\noptions timeout:1 attempts:3/);
});

t.test('sextant dispatcher in a fresh namespace: spartan interface, ready.spartan, resolv.conf', async (t) => {
  requireNetns();
  const { dig } = requireTools('dig', 'ip');
  const ns = await createNetns(t, 'dsp');
  const dir = tempDir(t);
  const resolv = join(dir, 'resolv.conf');
  const cfg = join(dir, 'dispatcher.json');
  writeFileSync(cfg, JSON.stringify({ upstream_resolvers: ['127.0.0.1:5'], resolv_conf: { path: resolv, interval: 200 } }));
  const root = new URL('../../../', import.meta.url).pathname;
  const [cmd, args] = ns.wrap(process.execPath, ['--import', 'tsx', join(root, 'cli/sextant.ts'), 'dispatcher', '--config', cfg]);
  const p = spawnTracked(t, cmd, args, { cwd: root });
  await p.waitFor(/sextant dispatcher listening on .*198\.51\.100\.3:53/, 30000);
  t.match(await ns.ip('addr', 'show', 'dev', 'spartan'), /198\.51\.100\.1\/32[\s\S]*198\.51\.100\.2\/32[\s\S]*198\.51\.100\.3\/32/);
  const answer = await ns.exec(dig!, ['+short', '+time=2', '+tries=1', '@198.51.100.2', 'ready.spartan']);
  t.same(answer.trim().split('\n').sort(), ['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  const tcp = await ns.exec(dig!, ['+short', '+tcp', '+time=2', '+tries=1', '@198.51.100.1', 'localhost']);
  t.equal(tcp.trim(), '127.0.0.1');
  await eventually(() => readFileSync(resolv, 'utf8').includes('nameserver 198.51.100.3'), 10000, 50, 'resolv.conf written');
  t.match(readFileSync(resolv, 'utf8'), /nameserver 198\.51\.100\.1\nnameserver 198\.51\.100\.2\nnameserver 198\.51\.100\.3\noptions timeout:1 attempts:3/);
  await ensureDummyInterface('spartan', ['198.51.100.1'], (a) => ns.ip(...a));
  t.pass('ensuring the interface again is idempotent');
});

t.test('bad config: the CLI refuses naming the key', async (t) => {
  const dir = tempDir(t);
  const cfg = join(dir, 'bad.json');
  writeFileSync(cfg, JSON.stringify({ handler_limit: -3 }));
  const root = new URL('../../../', import.meta.url).pathname;
  const p = spawnTracked(t, process.execPath, ['--import', 'tsx', join(root, 'cli/sextant.ts'), 'dispatcher', '--config', cfg], { cwd: root });
  t.equal(await p.exited, 2);
  t.match(p.output(), /handler_limit: must be >= 1/);
});
