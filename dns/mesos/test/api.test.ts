// HTTP API (upstream mesos-dns resolver_test.go TestHTTP) against the fixture state; config validation; poller.
import t from 'tap';
import { requestJson } from '../../../common/http.js';
import { FakeClock } from '../../../common/clock.js';
import { createLogger } from '../../../common/log.js';
import { parseConfig, defaultConfig } from '../config.js';
import { Poller } from '../poller.js';
import { Coalescer } from '../../../common/coalesce.js';
import { VERSION } from '../api.js';
import { startMesosDns } from './harness.js';
import { fakeState } from './fixture.js';

t.test('HTTP API endpoints', async (t) => {
  const { ip, httpPort } = await startMesosDns(t, { MesosCredentials: { principal: 'p', secret: 's3cret' } });
  const base = `http://${ip}:${httpPort}`;
  const rows: [string, unknown][] = [
    ['/v1/version', { Service: 'Mesos-DNS', URL: 'https://github.com/mesosphere/mesos-dns', Version: VERSION }],
    ['/v1/services/_leader._tcp.mesos.', [{ service: '_leader._tcp.mesos.', host: 'leader.mesos.', ip: '1.2.3.4', port: '5050' }]],
    ['/v1/services/_myservice._tcp.mesos.', [{ service: '', host: '', ip: '', port: '' }]],
    ['/v1/hosts/leader.mesos', [{ host: 'leader.mesos.', ip: '1.2.3.4' }]],
    ['/v1/hosts/nothing.mesos', [{ host: '', ip: '' }]],
  ];
  for (const [path, want] of rows) {
    const r = await requestJson(base + path);
    t.equal(r.status, 200, path);
    t.same(r.body, want, path);
  }
  const cfg = (await requestJson(base + '/v1/config')).body as Record<string, any>;
  t.equal(cfg.Domain, 'mesos');
  t.same(cfg.Masters, ['144.76.157.37:5050']);
  t.equal(cfg.MesosCredentials.Secret, '******', 'secret redacted');
  t.notMatch(JSON.stringify(cfg), /s3cret/);
  const axfr = (await requestJson(base + '/v1/axfr')).body as any;
  t.same(axfr.Records.As['leader.mesos.'], ['1.2.3.4']);
  t.same(axfr.Records.SRVs['_leader._tcp.mesos.'], ['leader.mesos.:5050']);
  t.equal(axfr.Domain, 'mesos');
  const en = (await requestJson(base + '/v1/enumerate')).body as any;
  t.ok(en.frameworks.some((f: any) => f.name === 'marathon' && f.tasks.some((tk: any) => tk.records.length > 0)));
  const res = await fetch(base + '/v1/hosts/leader.mesos', { headers: { accept: 'application/json' } });
  t.equal(res.status, 200, 'Accept: application/json is fine');
  await res.text();
  t.equal((await fetch(base + '/v1/hosts/leader.mesos/ports').then((r) => r.status)), 501);
  const metrics = await (await fetch(base + '/metrics')).text();
  for (const m of ['sextant_mesos_dns_records', 'sextant_mesos_dns_refresh_duration_seconds', 'sextant_mesos_dns_refresh_failures_total', 'sextant_mesos_dns_queries_total'])
    t.match(metrics, m);
});

t.test('config: defaults, case-insensitive keys, upstream validation errors', async (t) => {
  const { config } = parseConfig({ masters: ['10.0.0.1:5050'], DOMAIN: 'MyDomain', ttl: 30 });
  const d = defaultConfig();
  t.equal(config.Domain, 'mydomain');
  t.equal(config.TTL, 30);
  for (const k of ['Port', 'HttpPort', 'RefreshSeconds', 'SOARefresh', 'SOARetry', 'SOAExpire', 'ExternalOn', 'SetTruncateBit', 'EnumerationOn', 'EnforceRFC952', 'Timeout'] as const) t.same(config[k], d[k], `default ${k}`);
  t.same(config.IPSources, ['netinfo', 'mesos', 'host']);
  t.same(config.Resolvers, ['8.8.8.8']);
  t.equal(config.SOAMname, 'ns1.mesos.');
  t.equal(config.SOARname, 'root.ns1.mesos.');
  t.equal(config.EDNS0On, false);
  t.equal(parseConfig({ masters: ['a:1'], SOARname: 'admin@example.com' }).config.SOARname, 'admin.example.com.');
  const bad: [Record<string, unknown>, string, RegExp][] = [
    [{}, 'Masters', /specify Mesos masters or Zookeeper/],
    [{ masters: ['1.1.1.1:5050'], DnsOn: false, HttpOn: false }, 'DnsOn', /either DNS or HTTP/],
    [{ masters: ['1.1.1.1'] }, 'Masters', /illegal host:port/],
    [{ masters: ['1.1.1.1:5050', '1.1.1.1:5050'] }, 'Masters', /duplicate found/],
    [{ masters: ['1.1.1.1:5050'], resolvers: ['not-an-ip'] }, 'Resolvers', /illegal ip/],
    [{ masters: ['1.1.1.1:5050'], IPSources: [] }, 'IPSources', /empty ip sources/],
    [{ masters: ['1.1.1.1:5050'], IPSources: ['host', 'host'] }, 'IPSources', /duplicate ip source/],
    [{ masters: ['1.1.1.1:5050'], IPSources: ['rkt'] }, 'IPSources', /invalid ip source "rkt"/],
    [{ masters: ['1.1.1.1:5050'], StateTimeoutSeconds: 0 }, 'StateTimeoutSeconds', /Invalid HTTP Timeout/],
    [{ masters: ['1.1.1.1:5050'], Domain: 'bad_domain' }, 'Domain', /not a valid domain name/],
    [{ masters: ['1.1.1.1:5050'], ZoneResolvers: { mesos: ['1.1.1.1'] } }, 'ZoneResolvers.mesos', /can't specify ZoneResolver for Mesos domain/],
    [{ masters: ['1.1.1.1:5050'], ZoneResolvers: { 'a.com': ['1.1.1.1'], 'b.a.com': ['1.1.1.2'] } }, 'ZoneResolvers', /ambiguous zone resolvers/],
    [{ masters: ['1.1.1.1:5050'], ZoneResolvers: { 'a.com': [] } }, 'ZoneResolvers.a.com', /is empty/],
    [{ masters: ['1.1.1.1:5050'], TTL: 'sixty' }, 'TTL', /must be a number/],
    [{ masters: ['1.1.1.1:5050'], CertFile: '/x' }, 'KeyFile', /Missing private key/],
    [{ zk: 'http://nope' }, 'Zk', /invalid zk url/],
  ];
  for (const [input, field, re] of bad) {
    try {
      parseConfig(input);
      t.fail(`accepted ${JSON.stringify(input)}`);
    } catch (e: any) {
      t.equal(e.name, 'ConfigError');
      t.equal(e.field, field, JSON.stringify(input));
      t.match(e.message, re);
    }
  }
  t.same(parseConfig({ zk: 'zk://10.0.0.1:2181/mesos' }).config.Zk, 'zk://10.0.0.1:2181/mesos');
  t.same(parseConfig({ masters: ['1.1.1.1:5050'], unknownthing: 1 }).unknownKeys, ['unknownthing']);
});

t.test('poller: follows the leader, keeps old records on failure or malformed state', async (t) => {
  const { dns } = await startMesosDns(t);
  const calls: string[] = [];
  const responses = new Map<string, () => unknown>();
  const fetchState = async (hp: string) => {
    calls.push(hp);
    const f = responses.get(hp);
    if (!f) throw new Error(`connect ECONNREFUSED ${hp}`);
    return f();
  };
  const leaderState = { ...fakeState(), leader: 'master@10.0.0.2:5050' };
  responses.set('10.0.0.1:5050', () => leaderState);
  responses.set('10.0.0.2:5050', () => leaderState);
  const clock = new FakeClock();
  const p = new Poller({ target: dns, masters: ['10.0.0.9:5050', '10.0.0.1:5050'], refreshSeconds: 60, timeoutSeconds: 1, log: createLogger('test'), fetchState, clock });
  await p.start();
  t.same(calls, ['10.0.0.9:5050', '10.0.0.1:5050', '10.0.0.2:5050'], 'tries each, follows leader');
  t.same([...dns.records()!.a.get('leader.mesos')!], ['10.0.0.2']);
  const before = dns.records();
  responses.set('10.0.0.2:5050', () => ({ frameworks: 'garbage' }));
  calls.length = 0;
  t.equal(await p.pollOnce(), false);
  t.equal(calls[0], '10.0.0.2:5050', 'last leader first');
  t.equal(dns.records(), before, 'malformed state keeps old records');
  responses.clear();
  t.equal(await p.pollOnce(), false);
  t.equal(dns.records(), before, 'failed poll keeps old records');
  await p.stop();
});

t.test('coalesce: at most one regeneration per window', async (t) => {
  const clock = new FakeClock();
  let runs = 0;
  const c = new Coalescer(async () => void runs++, { intervalMs: 50, clock });
  c.trigger();
  await Promise.resolve();
  t.equal(runs, 1, 'leading edge runs at once');
  for (let i = 0; i < 100; i++) c.trigger();
  clock.advance(49);
  await new Promise((r) => setImmediate(r));
  t.equal(runs, 1);
  clock.advance(1);
  await new Promise((r) => setImmediate(r));
  t.equal(runs, 2, 'one trailing run for 100 triggers');
});
