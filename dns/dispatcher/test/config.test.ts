/** Config parsing and routing tables: defaults, every bad key named, longest-suffix routes. */
import t from 'tap';
import { parseDispatcherConfig, DEFAULT_BIND_IPS } from '../config.js';
import { RouteTable } from '../routes.js';
import { parseEndpoint } from '../endpoint.js';
import { UpstreamHealth } from '../health.js';
import { FakeClock } from '../../../common/clock.js';

t.test('defaults', async (t) => {
  const c = parseDispatcherConfig({});
  t.same(c.bindIps, DEFAULT_BIND_IPS);
  t.equal(c.createInterface, true);
  t.equal(c.bindInterface, 'spartan');
  t.equal(c.udpPort, 53);
  t.equal(c.tcpPort, 53);
  t.equal(c.handlerLimit, 1024);
  t.equal(c.timeoutMs, 5000);
  t.equal(c.cache.enabled, true);
  const m = parseDispatcherConfig({ mesos_resolvers: ['10.0.0.1'], bind_ips: ['127.0.0.1'] });
  t.equal(m.mesosResolvers[0]!.port, 61053, 'Mesos-DNS default port');
  t.equal(m.createInterface, false, 'configured bind_ips: no interface');
});

t.test('bad config is refused naming the key', async (t) => {
  const rows: [string, unknown, string][] = [
    ['upstream not an IP', { upstream_resolvers: ['dns.google'] }, 'upstream_resolvers[0]'],
    ['upstream bad port', { upstream_resolvers: ['8.8.8.8:99999'] }, 'upstream_resolvers[0]'],
    ['upstream not a list', { upstream_resolvers: '8.8.8.8' }, 'upstream_resolvers'],
    ['mesos resolver', { mesos_resolvers: ['1.2.3'] }, 'mesos_resolvers[0]'],
    ['forward zone resolver', { forward_zones: { 'a.com': ['x'] } }, 'forward_zones.a.com[0]'],
    ['forward zone empty', { forward_zones: { 'a.com': [] } }, 'forward_zones.a.com'],
    ['forward zone name', { forward_zones: { 'a..com': ['1.1.1.1'] } }, 'forward_zones.a..com'],
    ['bind_ips empty', { bind_ips: [] }, 'bind_ips'],
    ['bind_ips bad', { bind_ips: ['198.51.100.300'] }, 'bind_ips[0]'],
    ['udp_port', { udp_port: 70000 }, 'udp_port'],
    ['tcp_port', { tcp_port: 'x' }, 'tcp_port'],
    ['handler_limit', { handler_limit: 0 }, 'handler_limit'],
    ['timeout', { timeout: -1 }, 'timeout'],
    ['cache.max_entries', { cache: { max_entries: 0 } }, 'cache.max_entries'],
    ['cache unknown', { cache: { size: 1 } }, 'cache.size'],
    ['resolv_conf.path', { resolv_conf: {} }, 'resolv_conf.path'],
    ['bind_interface', { bind_interface: 'a-very-long-interface-name' }, 'bind_interface'],
    ['typo', { upstream_resolver: ['8.8.8.8'] }, 'upstream_resolver'],
  ];
  for (const [name, raw, field] of rows) t.throws(() => parseDispatcherConfig(raw), { name: 'ConfigError', field }, name);
});

t.test('endpoints', async (t) => {
  const rows: [string, string | [string, number]][] = [
    ['8.8.8.8', ['8.8.8.8', 53]],
    ['8.8.8.8:5353', ['8.8.8.8', 5353]],
    ['::1', ['::1', 53]],
    ['[::1]:5353', ['::1', 5353]],
    ['[0:0::1]', ['::1', 53]],
    ['host:53', 'error'],
    ['1.2.3.4:0', 'error'],
  ];
  for (const [s, want] of rows) {
    const e = parseEndpoint(s, 53);
    if (want === 'error') t.type(e, 'string', s);
    else t.same(typeof e === 'string' ? e : [e.host, e.port], want, s);
  }
});

t.test('longest-suffix routing', async (t) => {
  const ep = (h: string) => parseEndpoint(h, 53) as Exclude<ReturnType<typeof parseEndpoint>, string>;
  const table = new RouteTable({
    upstream: [ep('8.8.8.8')],
    mesos: [ep('10.0.0.1:61053')],
    forwardZones: new Map([
      ['corp.mesos', [ep('10.1.1.1')]],
      ['example.com', [ep('10.2.2.2')]],
      ['a.example.com', [ep('10.3.3.3')]],
      ['x.thisdcos.directory', [ep('10.4.4.4')]],
    ]),
  });
  const rows: [string, string, string][] = [
    ['app.marathon.mesos', 'forward', 'mesos'],
    ['mesos', 'forward', 'mesos'],
    ['db.corp.mesos', 'forward', 'corp.mesos'],
    ['b.a.example.com', 'forward', 'a.example.com'],
    ['www.example.com', 'forward', 'example.com'],
    ['web.marathon.l4lb.thisdcos.directory', 'local', 'thisdcos.directory'],
    ['y.x.thisdcos.directory', 'forward', 'x.thisdcos.directory'],
    ['ready.spartan', 'local', 'spartan'],
    ['localhost', 'local', 'localhost'],
    ['mesos.com', 'forward', '.'],
    ['', 'forward', '.'],
  ];
  for (const [name, kind, zone] of rows) {
    const r = table.route(name);
    t.same([r.kind, r.zone], [kind, zone], name || '(root)');
  }
  const c = table.route('www.example.com');
  t.ok(c.kind === 'forward' && c.cacheable, 'forward zones are cached');
  const m = table.route('db.corp.mesos');
  t.ok(m.kind === 'forward' && !m.cacheable, 'zones under .mesos are not cached');
});

t.test('failure-ranked choice', async (t) => {
  const clock = new FakeClock();
  const h = new UpstreamHealth(clock, 60_000);
  const eps = ['1.1.1.1', '2.2.2.2', '3.3.3.3'].map((s) => parseEndpoint(s, 53) as Exclude<ReturnType<typeof parseEndpoint>, string>);
  t.equal(h.pick(eps.slice(0, 2)).length, 2, 'fewer than 3: all');
  h.recordFailure(eps[0]!);
  for (let i = 0; i < 20; i++) t.notOk(h.pick(eps).includes(eps[0]!), 'the failing one is not picked');
  clock.advance(61_000);
  t.equal(h.recentFailures(eps[0]!), 0, 'failures are forgotten after the window');
});

t.test('serve_stale and log_limit: defaults, values, errors naming the key', async (t) => {
  const d = parseDispatcherConfig({});
  t.same(d.serveStale, { enabled: true, maxAge: 86400, ttl: 30, maxEntries: 10000, recheckMs: 30000, clientTimeoutMs: 800 }, "RFC 8767 defaults (1 day, 30 s) and a client response timer of 0.8 s, inside the 1 s a try of Node's resolver gets");
  t.same(d.logLimit, { perSecond: 10, burst: 20 });
  t.equal(d.tcpIdleTimeoutMs, 10000);
  const c = parseDispatcherConfig({ serve_stale: { max_age: 600, ttl: 5, recheck: 0 }, log_limit: { per_second: 0.5, burst: 3 } });
  t.same([c.serveStale.maxAge, c.serveStale.ttl, c.serveStale.recheckMs, c.logLimit.perSecond, c.logLimit.burst], [600, 5, 0, 0.5, 3]);
  const bad: [unknown, RegExp][] = [
    [{ serve_stale: { ttl: -1 } }, /serve_stale\.ttl.*>= 0/],
    [{ serve_stale: { max_age: 0 } }, /serve_stale\.max_age/],
    [{ serve_stale: { maxage: 10 } }, /serve_stale\.maxage.*unknown key/],
    [{ serve_stale: { enabled: 'yes' } }, /serve_stale\.enabled/],
    [{ log_limit: { burst: 0 } }, /log_limit\.burst/],
    [{ log_limit: { per_second: 0 } }, /log_limit\.per_second/],
    [{ tcp_idle_timeout: 0 }, /tcp_idle_timeout/],
  ];
  for (const [raw, re] of bad) t.throws(() => parseDispatcherConfig(raw), re, JSON.stringify(raw));
});
