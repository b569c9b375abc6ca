/**
 * Issue 30, the nginx front's pieces without a master: the configuration front-conf.ts writes passes
 * `nginx -t` for both checks, with and without mutual TLS to the upstreams; a hot route has the check
 * before its proxy_pass, passes neither the client's credential nor `Forwarded` upstream, and the Node
 * locations stream (and get the credential); the access-log reader (front-log.ts) counts
 * every line once, across reads that split a line and a rotation.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRegistry, ensureCa, issueCert } from '../../common/index.js';
import { NGINX, frontCheckModulePath, frontLua, nginxConf, type FrontCheck } from '../index.js';
import { FrontLog } from '../router/front-log.js';
import { createEntryMetrics } from '../router/metrics.js';
import { tmpDir } from './lib.js';

if (!fs.existsSync(NGINX)) throw new Error(`${NGINX} is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);

t.test('nginx -t accepts the configuration: C + lua, lua and auth_request, plain and mutual TLS upstreams', async (t) => {
  const checkModule = frontCheckModulePath();
  if (!checkModule) throw new Error('the C check module is not built (native/build/nginx/): install nginx-dev (scripts/debian-packages.txt) and npm run build');
  const dir = tmpDir(t, 'conf');
  const ca = await ensureCa(path.join(dir, 'ca'));
  const leaf = await issueCert(ca, dir, 'entry', { cn: 'entry', usage: 'both', ips: ['127.0.0.1'] });
  fs.mkdirSync(path.join(dir, 'tmp'));
  for (const variant of ['c', 'lua', 'auth_request'] as const) {
    const check: FrontCheck = variant === 'c' ? 'lua' : variant;
    for (const tls of [false, true]) {
      const luaFile = path.join(dir, 'front.lua');
      fs.writeFileSync(luaFile, frontLua(path.join(dir, 'entry.sock'), variant === 'c'));
      const conf = nginxConf({
        ...(variant === 'c' ? { checkModule } : {}),
        dir, listen: { host: '127.0.0.1', port: 18443 }, cert: leaf.cert, key: leaf.key, workers: 1, socket: path.join(dir, 'entry.sock'), check,
        marathon: { host: '127.0.0.1', port: 8080 }, mesos: { host: '127.0.0.1', port: 5050 }, mesosDns: { host: '127.0.0.1', port: 8123 },
        ...(tls ? { upstreamTls: { cert: leaf.cert, key: leaf.key, ca: ca.cert, name: 'entry' } } : {}),
        upstreamTimeoutMs: 400, accessLog: path.join(dir, 'access.log'), luaFile, maxHeaderBytes: 16384, user: 'root',
      });
      const file = path.join(dir, `nginx-${variant}-${tls}.conf`);
      fs.writeFileSync(file, conf);
      const r = spawnSync(NGINX, ['-t', '-q', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', file], { encoding: 'utf8' });
      t.equal(r.status, 0, `${variant}, ${tls ? 'mutual TLS' : 'plain'} upstreams: ${r.stderr}`);
      const hot = conf.slice(conf.indexOf('location /marathon/'));
      t.ok(hot.indexOf({ c: 'sextant_check @sextant_check_marathon @node;', lua: 'access_by_lua_block', auth_request: 'auth_request' }[variant]) < hot.indexOf('proxy_pass'), 'the check comes before the proxy');
      if (variant === 'c') {
        const miss = conf.slice(conf.indexOf('location @sextant_check_marathon {'));
        t.ok(miss.indexOf('access_by_lua_block') >= 0 && miss.indexOf('access_by_lua_block') < miss.indexOf('proxy_pass'), 'the C check\'s miss: the Lua check before the proxy');
      }
      t.match(conf, /location @node \{[^}]*proxy_buffering off;[^}]*proxy_request_buffering off;/, 'Node\'s locations stream both ways');
      if (tls) t.match(hot, /proxy_ssl_verify on;/, 'the upstream certificate is checked');
      for (const route of ['/marathon/', '/mesos/', '/mesos_dns/', ...(variant === 'c' ? ['@sextant_check_marathon', '@sextant_check_mesos', '@sextant_check_mesos_dns'] : [])]) {
        const at = conf.indexOf(`location ${route} {`);
        t.ok(at > 0, `location ${route}`);
        const block = conf.slice(at, conf.indexOf('\n    }', at));
        for (const h of ['Authorization', 'Cookie', 'Forwarded']) t.match(block, `proxy_set_header ${h} "";`, `${route}: ${h} not passed upstream`);
        const name = route.replace(/^@sextant_check_|\//g, '');
        t.match(block, variant === 'c' ? `sextant_count ${name};` : `access_log ${path.join(dir, 'access.log')} sextant_${name} `, `${route}: counted (${variant === 'c' ? 'in C' : 'by its log line'})`);
      }
      const servers = conf.split('\n  server {').slice(1);
      if (variant === 'c') {
        t.equal(servers.length, 2, 'the admin port\'s server and the counters\'');
        t.match(servers[1], `listen unix:${dir}/stats.sock;`, 'the counters on a unix socket in the front\'s directory');
        t.notMatch(servers[1], /listen (?!unix:)/, 'and nowhere else');
        t.notMatch(servers[0], /sextant_stats/, 'not on the admin port');
        t.notMatch(conf, /access_log \//, 'no access log');
      } else {
        t.equal(servers.length, 1, 'no counters\' server');
      }
      t.notMatch(conf, /location @node \{[^}]*proxy_set_header (Authorization|Cookie) /, 'Node gets the credential (it checks it)');
    }
  }
});

t.test('the access log reader counts each request once, across split lines and a rotation', async (t) => {
  const dir = tmpDir(t, 'log');
  const file = path.join(dir, 'access.log');
  const registry = createRegistry();
  const metrics = createEntryMetrics(registry);
  let reopened = 0;
  const log = new FrontLog(file, metrics, () => (reopened++, fs.writeFileSync(file, '')), 100);
  const count = async (route: string, code: string) => (await metrics.requests.get()).values.find((v) => v.labels.route === route && v.labels.code === code)?.value ?? 0;
  fs.writeFileSync(file, 'marathon 200 0.002\nmesos 200 0.001, 0.003\nmara');
  log.read();
  t.equal(await count('marathon', '200'), 1);
  t.equal(await count('mesos', '200'), 1, 'a line with two upstream tries counts once');
  fs.appendFileSync(file, 'thon 404 -\n');
  log.read();
  t.equal(await count('marathon', '404'), 1, 'a line split across reads counts once');
  fs.appendFileSync(file, 'mesos_dns 200 0.001\n'.repeat(10));
  log.read();
  t.equal(reopened, 1, 'past the size: renamed and nginx told to reopen');
  fs.appendFileSync(file, 'mesos_dns 200 0.001\n');
  log.read();
  t.equal(await count('mesos_dns', '200'), 11, 'lines before and after the rotation, each once');
  t.notOk(fs.existsSync(`${file}.1`), 'the rotated file is removed once read');
  const h = (await registry.getSingleMetric('sextant_entry_upstream_seconds')!.get()).values.find((v) => (v as { metricName?: string }).metricName === 'sextant_entry_upstream_seconds_count' && v.labels.route === 'mesos');
  t.equal(h?.value, 1, 'upstream time observed');
  const hv = (await registry.getSingleMetric('sextant_entry_upstream_seconds')!.get()).values.filter((v) => v.labels.route === 'mesos_dns');
  const of = (name: string, le?: number) => hv.find((v) => (v as { metricName?: string }).metricName === `sextant_entry_upstream_seconds_${name}` && (le === undefined || v.labels.le === le))?.value;
  t.equal(of('count'), 11, 'identical lines: each one observed');
  t.equal(of('bucket', 0.0005), 0, 'in its bucket only');
  t.equal(of('bucket', 0.001), 11);
  t.ok(Math.abs(of('sum')! - 0.011) < 1e-9, `sum of the identical lines' times: ${of('sum')}`);
});
