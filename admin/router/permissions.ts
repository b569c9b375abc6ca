/**
 * What a request through the entry point needs: (upstream, method, upstream path) -> a Permission,
 * `public`, or a permission computed from the JSON body (Marathon creates name the app or group in
 * the body). Keyed on the UPSTREAM path, so `/mesos/v1/networks` and `/net/v1/networks` need the same
 * permission: no prefix is a way around a rule. A request that matches no row is refused (fail closed).
 *
 * Actions: GET/HEAD/OPTIONS need `read`; POST/PUT/PATCH `update`; DELETE `delete` (`full` implies all).
 * Resource ids follow DC/OS (see admin/README.md for the whole table).
 */
import type { Action, Permission } from '../../contracts/auth.js';
import { BadPath, mapPath } from './routes.js';

export type Upstream = 'mesos' | 'marathon' | 'mesos-dns' | 'service';

export type Need =
  | { kind: 'public' }
  | { kind: 'permission'; permission: Permission }
  | { kind: 'body'; fromBody(body: unknown): Permission }
  | { kind: 'none' };

export const MARATHON_SERVICES = 'dcos:service:marathon:marathon:services:';
export const R = {
  mesos: 'dcos:adminrouter:ops:mesos',
  mesosDns: 'dcos:adminrouter:ops:mesos-dns',
  networks: 'dcos:adminrouter:ops:networks',
  vips: 'dcos:adminrouter:ops:vips',
  nodes: 'dcos:adminrouter:ops:nodes',
  metrics: 'dcos:adminrouter:ops:metrics',
  health: 'dcos:adminrouter:ops:system-health',
  logs: 'dcos:adminrouter:ops:system-logs',
  acs: 'dcos:adminrouter:acs',
  agentFiles: 'dcos:adminrouter:ops:slave',
  marathon: 'dcos:adminrouter:service:marathon',
  service: (app: string) => `dcos:adminrouter:service:${app}`,
  group: (group: string) => `${MARATHON_SERVICES}${group}`,
} as const;

export function actionOf(method: string): Action | undefined {
  switch (method) {
    case 'GET': case 'HEAD': case 'OPTIONS': return 'read';
    case 'POST': case 'PUT': case 'PATCH': return 'update';
    case 'DELETE': return 'delete';
    default: return undefined;
  }
}

/**
 * The group an app id lives in (`/prod/web` -> `/prod`, `web` -> `/`). An id that does not parse
 * as a Marathon path (`.`/`..`, empty or odd segments) maps to the root group: the widest permission.
 */
export function groupOfApp(id: string): string {
  const segs = appSegments(id);
  return segs ? `/${segs.slice(0, -1).join('/')}` : '/';
}

/** A group id itself, normalized (`prod/` -> `/prod`); odd ids map to the root group. */
export function groupOf(id: string): string {
  const segs = id === '' || id === '/' ? [] : appSegments(id);
  return segs ? `/${segs.join('/')}` : '/';
}

const SEGMENT = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
function appSegments(id: string): string[] | undefined {
  const segs = id.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  if (!segs.length || !segs.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..' && !s.includes('..'))) return undefined;
  return segs;
}

type Row = [Upstream, RegExp, (method: string, m: RegExpMatchArray) => Need | undefined];

const perm = (resource: string, method: string): Need | undefined => {
  const action = actionOf(method);
  return action ? { kind: 'permission', permission: { resource, action } } : undefined;
};
const readOnly = (resource: string) => (method: string) => (actionOf(method) === 'read' ? perm(resource, method) : undefined);
const PUBLIC: Need = { kind: 'public' };
const publicGet = (method: string) => (method === 'GET' || method === 'HEAD' ? PUBLIC : undefined);

/** The group a `/v2/apps/<id>[/tasks|/restart|/versions...]` path is about. */
function appPathGroup(rest: string): string {
  return groupOfApp(rest.replace(/\/(tasks|restart|versions(\/[^/]*)?|delay)$/, ''));
}

function bodyId(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/** One row per route; first match wins. Order: specific before general. */
const ROWS: Row[] = [
  // --- master Mesos port: identity service, health, networks, VIPs, nodes, Mesos ---
  ['mesos', /^\/acs\/api\/v1\/auth\/login$/, (m) => (m === 'POST' ? PUBLIC : undefined)],
  ['mesos', /^\/acs\/api\/v1\/auth\/jwks$/, publicGet],
  ['mesos', /^\/acs\/api\/v1(\/.*)?$/, (m) => perm(R.acs, m)],
  ['mesos', /^\/system\/health\/v1(\/.*)?$/, (m) => perm(R.health, m)],
  // diagnostics: node logs need DC/OS's system-logs permission; kernel dumps the health one
  ['mesos', /^\/system\/diag\/v1\/(nodes\/[^/]+\/)?logs(\/.*)?$/, (m) => perm(R.logs, m)],
  ['mesos', /^\/system\/diag\/v1(\/.*)?$/, (m) => perm(R.health, m)],
  ['mesos', /^\/v1\/networks(\/.*)?$/, (m) => perm(R.networks, m)],
  ['mesos', /^\/v1\/overlay(\/.*)?$/, (m) => perm(R.networks, m)],
  ['mesos', /^\/v1\/agents\/[^/]+\/overlay$/, (m) => perm(R.networks, m)],
  ['mesos', /^\/v1\/l4lb(\/.*)?$/, (m) => perm(R.vips, m)],
  ['mesos', /^\/net\/v1\/(vips|backends)(\/.*)?$/, (m) => perm(R.vips, m)],
  ['mesos', /^\/v1\/control(\/.*)?$/, (m) => perm(R.nodes, m)],
  ['mesos', /^\/master\/slaves$/, (m) => perm(R.nodes, m)],
  ['mesos', /^\/(master\/)?health$/, publicGet],
  ['mesos', /^\/metrics$/, readOnly(R.metrics)],
  ['mesos', /^\/(master\/(state(\.json)?|frameworks|redirect)|state(\.json)?|version|redirect|openapi\.json)$/, readOnly(R.mesos)],
  // The agent protocol: agents talk to the master directly; through the entry point only with ops:mesos full.
  ['mesos', /^\/api\/v1\/agents\/(register|heartbeat|status)$/, (m) => (m === 'POST' ? { kind: 'permission', permission: { resource: R.mesos, action: 'full' } } : undefined)],
  // `sextant node rm`: remove an agent.
  ['mesos', /^\/api\/v1\/agents\/[^/]+$/, (m) => (m === 'DELETE' ? perm(R.nodes, m) : undefined)],
  // The dashboard: task logs from an agent (its sandbox files), DNS lookups, chart series.
  ['mesos', /^\/agent\/[^/]+\/files\/read$/, readOnly(R.agentFiles)],
  ['mesos', /^\/v1\/dns\/query$/, readOnly(R.mesosDns)],
  ['mesos', /^\/v1\/dashboard\/series$/, readOnly(R.metrics)],
  // The dashboard's static files (index and assets) are public; its API calls go through the rows above.
  ['mesos', /^\/(index\.html|favicon\.ico|assets\/[^?]*|static\/[^?]*)?$/, publicGet],

  // --- Marathon ---
  ['marathon', /^\/ping$/, publicGet],
  ['marathon', /^\/(v2\/(info|leader)|openapi\.json|metrics)$/, readOnly(R.marathon)],
  ['marathon', /^\/v2\/apps$/, (m) => (m === 'POST' ? { kind: 'body', fromBody: (b) => ({ resource: R.group(groupOfApp(bodyId(b) ?? '')), action: 'update' }) } : readOnly(R.group('/'))(m))],
  ['marathon', /^\/v2\/apps\/(.+)$/, (m, x) => (m === 'POST' && !x[1]!.endsWith('/restart') ? undefined : perm(R.group(appPathGroup(x[1]!)), m))],
  ['marathon', /^\/v2\/(tasks|deployments|events)$/, readOnly(R.group('/'))],
  ['marathon', /^\/v2\/queue$/, readOnly(R.group('/'))],
  ['marathon', /^\/v2\/queue\/(.+)\/delay$/, (m, x) => (m === 'DELETE' ? { kind: 'permission', permission: { resource: R.group(groupOfApp(x[1]!)), action: 'update' } } : undefined)],
  ['marathon', /^\/v2\/groups$/, (m) => (m === 'POST' ? { kind: 'body', fromBody: (b) => ({ resource: R.group(groupOf(bodyId(b) ?? '/')), action: 'update' }) } : perm(R.group('/'), m))],
  ['marathon', /^\/v2\/groups\/(.+)$/, (m, x) => perm(R.group(groupOf(x[1]!)), m)],

  // --- Mesos-DNS HTTP API: read-only ---
  ['mesos-dns', /^\/.*$/, readOnly(R.mesosDns)],
];

/** What a request needs. `path` is the upstream path without the query; `service` is the app id for `/service/<app>/`. */
export function permissionFor(upstream: Upstream, method: string, path: string, service?: string): Need {
  // No permission depends on the query: the nginx front keeps decisions per credential and path without it
  // (front-lua.ts); admin/test/routes-walk.test.ts checks every route with and without one.
  if (path.includes('?')) throw new Error(`permissionFor: '${path.slice(0, 100)}' carries a query: the table is keyed on the path alone`);
  if (upstream === 'service') return perm(R.service(service ?? ''), method) ?? { kind: 'none' };
  // The master's port also serves the DC/OS prefixes itself (the dashboard's shim hands `/marathon/...`
  // to Marathon in process): such a path needs what the API it reaches needs.
  if (upstream === 'mesos' && /^\/(mesos|marathon|net|mesos_dns)(\/|$)/.test(path) && !/^\/net\/v1\/(vips|backends)(\/|$)/.test(path)) {
    try {
      const inner = mapPath(path);
      return permissionFor(inner.upstream, method, inner.path, inner.app);
    } catch (e) {
      if (e instanceof BadPath) return { kind: 'none' };
      throw e;
    }
  }
  for (const [u, re, need] of ROWS) {
    if (u !== upstream) continue;
    const m = path.match(re);
    if (m) return need(method, m) ?? { kind: 'none' };
  }
  return { kind: 'none' };
}
