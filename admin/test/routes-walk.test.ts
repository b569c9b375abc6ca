/**
 * Issue 30, table-driven: every route of every API behind the entry point, read from the code (each
 * upstream's `/openapi.json`, served by a real `sextant master` with its overlay, l4lb, Mesos-DNS and
 * control services), reached through the entry point: without a token 401, with a token lacking the
 * permission 403 naming it, with exactly the permission the table names: neither 401 nor 403. A route
 * the permission table has no entry for fails here, so a new route cannot ship without one.
 */
import t from 'tap';
import { permissionFor, type Need, type Upstream } from '../index.js';
import { RouteCache } from '../router/route-cache.js';
import { request, spawnMaster, startEntry } from './lib.js';

t.setTimeout(240_000);

interface Api {
  upstream: Upstream;
  /** Entry path prefixes that reach this upstream (each is walked). */
  prefixes: string[];
  port: (m: { port: number; marathonPort: number; mesosDnsPort: number }) => number;
}

const APIS: Api[] = [
  { upstream: 'mesos', prefixes: ['/mesos'], port: (m) => m.port },
  { upstream: 'marathon', prefixes: ['/marathon'], port: (m) => m.marathonPort },
];

/** Concrete values for path parameters; some handlers only exist with a suffix on the rest-of-path id. */
const SUFFIX: Record<string, string> = { 'POST /v2/apps/{id}': 'prod/web/restart', 'DELETE /v2/queue/{id}': 'prod/web/delay' };
const concrete = (u: Upstream, method: string, p: string) => p.replace(/\{([^}]+)\}/g, () => SUFFIX[`${method} ${p}`] ?? (u === 'marathon' ? 'prod/web' : 'x1'));
const BODY: Record<string, unknown> = { 'POST /v2/apps': { id: '/prod/web', cmd: 'sleep 1000', cpus: 0.1, mem: 16 }, 'POST /v2/groups': { id: '/prod', apps: [] } };

t.test('every route through the entry point: 401 without a token, 403 without the permission, through with it', async (t) => {
  const m = await spawnMaster(t);
  const e = await startEntry(t, m, { limits: { throttleFailures: 100_000 } });
  e.authority.user('nobody', []);
  const nobody = await e.authority.token('nobody');
  let walked = 0;
  let writes = 0;
  const aliases: string[] = [];
  const direct: [Upstream, string, string][] = [];
  for (const api of APIS) {
    const doc = (await (await fetch(`http://${m.ip}:${api.port(m)}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const [p, methods] of Object.entries(doc.paths)) {
      // The master port's own DC/OS prefixes (the dashboard's shim): aliases of the other APIs, checked below.
      if (api.upstream === 'mesos' && /^\/(mesos|marathon|net|mesos_dns)\/\{rest\}$/.test(p)) {
        aliases.push(p);
        continue;
      }
      for (const method of Object.keys(methods).map((x) => x.toUpperCase())) {
        const upath = concrete(api.upstream, method, p);
        direct.push([api.upstream, method, upath]);
        const need: Need = permissionFor(api.upstream, method, upath);
        const name = `${method} ${p}`;
        if (need.kind === 'none') {
          t.fail(`${name} (${api.upstream}) has no entry in admin/router/permissions.ts`);
          continue;
        }
        const body = BODY[name] !== undefined ? JSON.stringify(BODY[name]) : method === 'GET' || method === 'DELETE' ? undefined : '{}';
        walked++;
        if (method !== 'GET') writes++;
        for (const prefix of api.prefixes) {
          const url = `${e.url}${prefix}${upath}`;
          if (need.kind === 'public') {
            const r = await request(url, e.ca, { method, ...(body ? { body } : {}) });
            t.not(r.status, 401, `${name}: public, no token needed`);
            continue;
          }
          const anon = await request(url, e.ca, { method, ...(body ? { body } : {}) });
          t.equal(anon.status, 401, `${name} without a token: 401`);
          t.match(anon.json(), { code: 'missing' }, `${name}: the 401 body says the token is missing`);
          const perm = need.kind === 'permission' ? need.permission : need.fromBody(BODY[name]);
          const denied = await request(url, e.ca, { method, token: nobody, ...(body ? { body } : {}) });
          t.equal(denied.status, 403, `${name} with a token lacking ${perm.resource} ${perm.action}: 403`);
          t.match(denied.json(), { code: 'forbidden', permission: perm }, `${name}: the 403 names the permission`);
          const uid = `u${walked}`;
          e.authority.user(uid, [perm]);
          const ok = await request(url, e.ca, { method, token: await e.authority.token(uid), ...(body ? { body } : {}), headersOnly: p === '/v2/events' });
          // The identity service checks the token again itself (its writes, whoami): it cannot know the stub
          // authority's key, so its own DC/OS-shaped 401 (code ERR_...) means the entry point let the request through.
          const fromAcs = p.startsWith('/acs/api/v1/') && /^ERR_/.test(String((ok.json() as { code?: unknown } | undefined)?.code));
          t.notOk([401, 403].includes(ok.status) && !fromAcs, `${name} with ${perm.resource} ${perm.action}: through (${ok.status})`);
          t.notOk(ok.status >= 500 && ok.json() && (ok.json() as { code?: string }).code?.startsWith('upstream'), `${name}: the entry point reached the upstream`);
        }
      }
    }
  }
  t.ok(walked > 30, `walked ${walked} routes`);
  // Through an alias prefix on the master's port, every route needs what it needs on its own port.
  const key = (n: Need) => JSON.stringify(n.kind === 'body' ? n.fromBody(BODY['POST /v2/apps']) : n);
  for (const [u, method, upath] of direct) {
    const prefix = u === 'marathon' ? '/marathon' : '/mesos';
    t.equal(key(permissionFor('mesos', method, prefix + upath)), key(permissionFor(u, method, upath)), `${method} ${prefix}${upath} on the master port: same permission as ${u} ${upath}`);
  }
  // No permission depends on the query: the nginx front keeps an allowed read per credential and path
  // without it (admin/router/front-lua.ts). The day a route's permission reads the query, this fails.
  const QUERIES = ['?id=/other/app', '?group=/other&embed=apps.tasks', '?force=true', '?path=/acs/api/v1/users', '?x=1&x=2#f'];
  for (const [u, method, upath] of direct) {
    for (const prefix of u === 'marathon' ? ['/marathon', '/mesos/marathon'] : ['/mesos', '']) {
      const target = `${prefix}${upath}`;
      const plain = key(new RouteCache().resolve(method, target).need);
      for (const q of QUERIES) t.equal(key(new RouteCache().resolve(method, target + q).need), plain, `${method} ${target}${q}: the same permission as without the query`);
    }
  }
  t.throws(() => permissionFor('mesos', 'GET', '/master/state?x=1'), /carries a query/, 'the table refuses a path that carries a query');
  t.ok(aliases.length >= 2 || aliases.length === 0, `aliases seen: ${aliases.join(', ') || 'none'}`);
  const viaAlias = await request(`${e.url}/mesos/marathon/v2/apps/prod/web`, e.ca, { method: 'DELETE', token: nobody });
  t.match(viaAlias.json(), { code: 'forbidden', permission: { resource: 'dcos:service:marathon:marathon:services:/prod', action: 'delete' } }, 'a Marathon delete through the master port\'s alias needs the same group permission');
  t.ok(writes >= 19, `of which ${writes} writes`);
  // The prefixes for /net/ map onto the same rows: an isolation rule needs ops:networks whichever way it comes.
  for (const path of ['/net/v1/networks/isolation', '/mesos/v1/networks/isolation']) {
    const r = await request(`${e.url}${path}`, e.ca, { method: 'DELETE', token: nobody });
    t.match(r.json(), { permission: { resource: 'dcos:adminrouter:ops:networks', action: 'delete' } }, `${path}: ops:networks delete`);
  }
  const unknown = await request(`${e.url}/mesos/no/such/route`, e.ca, { method: 'POST', body: '{}' });
  t.equal(unknown.status, 403, 'a route with no permission entry is refused (fail closed), even before authentication');
  t.match(unknown.json(), { code: 'no-permission-entry' });
});
