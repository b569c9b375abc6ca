/** The URL map and the permission table, pure: one row per behaviour. */
import t from 'tap';
import { mapPath, permissionFor, type Need } from '../index.js';

const show = (n: Need) => (n.kind === 'permission' ? `${n.permission.resource} ${n.permission.action}` : n.kind === 'body' ? `body:${JSON.stringify(n.fromBody({ id: '/prod/web' }))}` : n.kind);

t.test('mapPath: DC/OS layout', async (t) => {
  const rows: [string, string, string, string][] = [
    // entry target, route, upstream, upstream path+query
    ['/mesos/master/state?x=1', 'mesos', 'mesos', '/master/state?x=1'],
    ['/mesos', 'mesos', 'mesos', '/'],
    ['/marathon/v2/apps', 'marathon', 'marathon', '/v2/apps'],
    ['/mesos_dns/v1/version', 'mesos_dns', 'mesos-dns', '/v1/version'],
    ['/net/v1/networks', 'net', 'mesos', '/v1/networks'],
    ['/net/v1/networks/isolation', 'net', 'mesos', '/v1/networks/isolation'],
    ['/net/v1/l4lb/vips', 'net', 'mesos', '/v1/l4lb/vips'],
    ['/net/v1/vips/1.2.3.4:80', 'net', 'mesos', '/net/v1/vips/1.2.3.4:80'],
    ['/system/health/v1/report', 'system_health', 'mesos', '/system/health/v1/report'],
    ['/system/diag/v1/nodes/10.0.0.2/logs', 'system_diag', 'mesos', '/system/diag/v1/nodes/10.0.0.2/logs'],
    ['/acs/api/v1/auth/login', 'acs', 'mesos', '/acs/api/v1/auth/login'],
    ['/service/web/index.html', 'service', 'service', '/index.html'],
    ['/', 'dashboard', 'mesos', '/'],
    ['/mesosphere', 'dashboard', 'mesos', '/mesosphere'],
  ];
  for (const [target, route, upstream, path] of rows) {
    const m = mapPath(target);
    t.same([m.route, m.upstream, m.path + m.query], [route, upstream, path], target);
  }
  t.equal(mapPath('/service/prod%2Fweb/x').app, '/prod/web', 'a nested app id, encoded');
  for (const bad of ['/mesos/../x', '/mesos/%2E%2E/x', '/mesos/a%2Fb', '/a//b', '/a\\b', 'x', '/service/', '/service/UPPER/', '/service/a%2F..%2Fb/'])
    t.throws(() => mapPath(bad), { name: 'BadPath' }, `${JSON.stringify(bad)} refused`);
});

t.test('permissionFor: one row per rule', async (t) => {
  const rows: [Parameters<typeof permissionFor>, string][] = [
    [['mesos', 'POST', '/acs/api/v1/auth/login'], 'public'],
    [['mesos', 'GET', '/acs/api/v1/auth/login'], 'none'],
    [['mesos', 'GET', '/acs/api/v1/users'], 'dcos:adminrouter:acs read'],
    [['mesos', 'PUT', '/acs/api/v1/users/bob'], 'dcos:adminrouter:acs update'],
    [['mesos', 'GET', '/system/health/v1/report'], 'dcos:adminrouter:ops:system-health read'],
    [['mesos', 'POST', '/v1/networks'], 'dcos:adminrouter:ops:networks update'],
    [['mesos', 'DELETE', '/v1/networks/isolation'], 'dcos:adminrouter:ops:networks delete'],
    [['mesos', 'DELETE', '/v1/agents/S1/overlay'], 'dcos:adminrouter:ops:networks delete'],
    [['mesos', 'GET', '/v1/l4lb/vips'], 'dcos:adminrouter:ops:vips read'],
    [['mesos', 'GET', '/net/v1/vips'], 'dcos:adminrouter:ops:vips read'],
    [['mesos', 'GET', '/v1/control/agents'], 'dcos:adminrouter:ops:nodes read'],
    [['mesos', 'GET', '/master/slaves'], 'dcos:adminrouter:ops:nodes read'],
    [['mesos', 'GET', '/master/state'], 'dcos:adminrouter:ops:mesos read'],
    [['mesos', 'POST', '/master/state'], 'none'],
    [['mesos', 'POST', '/api/v1/agents/register'], 'dcos:adminrouter:ops:mesos full'],
    [['mesos', 'DELETE', '/api/v1/agents/S1'], 'dcos:adminrouter:ops:nodes delete'],
    [['mesos', 'GET', '/health'], 'public'],
    [['mesos', 'DELETE', '/marathon/v2/apps/prod/web'], 'dcos:service:marathon:marathon:services:/prod delete'],
    [['mesos', 'POST', '/net/v1/networks'], 'dcos:adminrouter:ops:networks update'],
    [['mesos', 'GET', '/mesos/master/state'], 'dcos:adminrouter:ops:mesos read'],
    [['mesos', 'GET', '/mesos_dns/v1/version'], 'dcos:adminrouter:ops:mesos-dns read'],
    [['mesos', 'GET', '/agent/S1/files/read'], 'dcos:adminrouter:ops:slave read'],
    [['mesos', 'GET', '/v1/dashboard/series'], 'dcos:adminrouter:ops:metrics read'],
    [['mesos', 'GET', '/assets/app.js'], 'public'],
    [['mesos', 'POST', '/assets/app.js'], 'none'],
    [['mesos', 'GET', '/no/such'], 'none'],
    [['marathon', 'GET', '/ping'], 'public'],
    [['marathon', 'GET', '/v2/info'], 'dcos:adminrouter:service:marathon read'],
    [['marathon', 'GET', '/v2/apps'], 'dcos:service:marathon:marathon:services:/ read'],
    [['marathon', 'POST', '/v2/apps'], 'body:{"resource":"dcos:service:marathon:marathon:services:/prod","action":"update"}'],
    [['marathon', 'GET', '/v2/apps/prod/web'], 'dcos:service:marathon:marathon:services:/prod read'],
    [['marathon', 'GET', '/v2/apps/prod/web/tasks'], 'dcos:service:marathon:marathon:services:/prod read'],
    [['marathon', 'PUT', '/v2/apps/web'], 'dcos:service:marathon:marathon:services:/ update'],
    [['marathon', 'POST', '/v2/apps/prod/web/restart'], 'dcos:service:marathon:marathon:services:/prod update'],
    [['marathon', 'POST', '/v2/apps/prod/web'], 'none'],
    [['marathon', 'DELETE', '/v2/apps/a/b/c'], 'dcos:service:marathon:marathon:services:/a/b delete'],
    [['marathon', 'DELETE', '/v2/apps/prod/../web'], 'dcos:service:marathon:marathon:services:/ delete'],
    [['marathon', 'DELETE', '/v2/queue/prod/web/delay'], 'dcos:service:marathon:marathon:services:/prod update'],
    [['marathon', 'POST', '/v2/groups'], 'body:{"resource":"dcos:service:marathon:marathon:services:/prod/web","action":"update"}'],
    [['marathon', 'DELETE', '/v2/groups'], 'dcos:service:marathon:marathon:services:/ delete'],
    [['marathon', 'PUT', '/v2/groups/prod'], 'dcos:service:marathon:marathon:services:/prod update'],
    [['marathon', 'GET', '/v2/events'], 'dcos:service:marathon:marathon:services:/ read'],
    [['marathon', 'TRACE', '/v2/apps'], 'none'],
    [['mesos-dns', 'GET', '/v1/hosts/x'], 'dcos:adminrouter:ops:mesos-dns read'],
    [['mesos-dns', 'POST', '/v1/hosts/x'], 'none'],
    [['service', 'GET', '/', '/prod/web'], 'dcos:adminrouter:service:/prod/web read'],
  ];
  for (const [args, want] of rows) t.equal(show(permissionFor(...args)), want, `${args[0]} ${args[1]} ${args[2]}`);
  const app = permissionFor('marathon', 'POST', '/v2/apps');
  if (app.kind !== 'body') throw new Error('POST /v2/apps needs the body');
  t.same(app.fromBody({ id: 'web' }), { resource: 'dcos:service:marathon:marathon:services:/', action: 'update' }, 'a relative top-level id: root group');
  t.same(app.fromBody('not json'), { resource: 'dcos:service:marathon:marathon:services:/', action: 'update' }, 'no id: the root group (widest)');
});
