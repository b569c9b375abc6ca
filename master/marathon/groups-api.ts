/**
 * `/v2/groups` (Marathon 1.3): GET the tree (root or one group), POST a definition (creates every
 * app under the group's path), PUT `{scaleBy}` or a new definition, DELETE (stops every app under
 * it). Each change is one version and one deployment for all the apps it touches; `?force=true`
 * overrides a running deployment of any of them.
 */
import { ConflictError, NotFoundError, ValidationError, type Reply, type Request, type Router } from '../../common/index.js';
import { LIMIT_ENV, type Limits } from '../limits.js';
import type { App } from './app.js';
import { checkPaths, flattenGroup, groupId, groupTree, isUnder, scaleApps, type GroupBody } from './groups.js';
import { groupSchema, groupUpdateSchema } from './schema.js';
import type { ChangeSet, MarathonScheduler } from './scheduler.js';

export interface GroupRoutesContext {
  scheduler: MarathonScheduler;
  limits: Limits;
  /** An app as /v2/apps shows it. */
  show(appId: string): Record<string, unknown>;
  /** Turns a LockedError into Marathon's 409. */
  locked(h: (r: Request) => Promise<Reply>): (r: Request) => Promise<Reply>;
}

export function groupRoutes(router: Router, ctx: GroupRoutesContext): void {
  const s = ctx.scheduler;
  const force = (r: Request) => r.query.get('force') === 'true';
  const idOf = (r: Request) => {
    const raw = r.params.id ?? '/';
    const id = groupId(raw);
    if (!id) throw new ValidationError([{ path: '/id', errors: [`'${raw}' is not a valid group path`] }]);
    return id;
  };
  const appsUnder = (id: string) => [...s.apps.keys()].filter((a) => isUnder(a, id));
  const exists = (id: string) => id === '/' || appsUnder(id).length > 0;
  /** A group's version: its latest app's; the root's is the last change of any app (deletes too). */
  const versionOf = (group: string, ids: string[]) => {
    const latest = ids.map((a) => s.apps.get(a)!.version).sort().at(-1);
    return (group === '/' ? s.lastVersion() : latest) ?? new Date(0).toISOString();
  };
  const tree = (id: string) => {
    if (!exists(id)) throw new NotFoundError(`Group '${id}' does not exist`);
    return groupTree(id, [...s.apps.keys()], ctx.show, versionOf);
  };
  /** Admit the change's apps against the rest of the cluster (paths), then store it as one deployment. */
  const apply = async (change: ChangeSet, r: Request) => {
    const removed = new Set([...change.remove, ...change.put.map((a) => a.id)]);
    checkPaths([...[...s.apps.keys()].filter((a) => !removed.has(a)), ...change.put.map((a) => a.id)]);
    const { version, deployment } = await s.applyChanges(change, force(r));
    return { version, deploymentId: deployment.id };
  };
  const nonEmpty = (apps: App[], id: string) => {
    if (!apps.length) throw new ValidationError([{ path: '/apps', errors: [`group ${id} would have no app: a group is the apps under its path, so an empty group is not stored (DELETE the group instead)`] }]);
  };
  const admit = (d: unknown) => s.admitNew(d);

  const create = { summary: 'create a group: every app of the definition, under its path', body: groupSchema(ctx.limits), nullIsAbsent: true };
  const update = {
    summary: 'scale a group ({scaleBy}) or replace what a definition names (apps, groups)',
    body: groupUpdateSchema(ctx.limits),
    nullIsAbsent: true,
    query: { force: 'true: override a running deployment' },
  };

  router.get('/v2/groups', () => ({ json: tree('/') }));
  router.get('/v2/groups/*id', (r) => ({ json: tree(idOf(r)) }));

  router.post(
    '/v2/groups',
    ctx.locked(async (r) => {
      const body = r.body as GroupBody;
      const id = groupId(body.id!);
      if (!id) throw new ValidationError([{ path: '/id', errors: [`'${body.id}' is not a valid group path`] }]);
      if (id !== '/' && exists(id)) throw new ConflictError(`Group ${id} is already created. Use PUT to change this group.`);
      const { direct, nested } = flattenGroup(body, id, admit);
      const put = [...direct, ...nested];
      nonEmpty(put, id);
      const taken = put.filter((a) => s.apps.has(a.id)).map((a) => a.id);
      if (taken.length) throw new ConflictError(`An app with id [${taken.join(', ')}] already exists.`);
      return { status: 201, json: await apply({ put, remove: [] }, r), headers: { location: `/v2/groups${id === '/' ? '' : id}` } };
    }),
    create,
  );

  const put = ctx.locked(async (r) => {
    const id = idOf(r);
    const body = r.body as GroupBody;
    if (body.id !== undefined && groupId(body.id.startsWith('/') ? body.id : `${id === '/' ? '' : id}/${body.id}`) !== id)
      throw new ValidationError([{ path: '/id', errors: [`'${body.id}' is not the group of the path (${id})`] }]);
    const cur = appsUnder(id);
    if (body.scaleBy !== undefined) {
      if (body.apps !== undefined || body.groups !== undefined) throw new ValidationError([{ path: '/scaleBy', errors: ['scaleBy cannot be combined with apps or groups'] }]);
      if (!exists(id)) throw new NotFoundError(`Group '${id}' does not exist`);
      const scaled = scaleApps(cur.map((a) => s.apps.get(a)!.app), body.scaleBy, ctx.limits.instancesPerApp, LIMIT_ENV.instancesPerApp);
      return { json: await apply({ put: scaled, remove: [] }, r) };
    }
    const { direct, nested } = flattenGroup(body, id, admit);
    const isDirect = (a: string) => a.lastIndexOf('/') === (id === '/' ? 0 : id.length);
    const keep = cur.filter((a) => (isDirect(a) ? body.apps === undefined : body.groups === undefined));
    const next = [...direct, ...nested];
    nonEmpty([...next, ...keep.map((a) => s.apps.get(a)!.app)], id);
    const wanted = new Set([...keep, ...next.map((a) => a.id)]);
    return { json: await apply({ put: next, remove: cur.filter((a) => !wanted.has(a)) }, r) };
  });
  router.put('/v2/groups', put, update);
  router.put('/v2/groups/*id', put, update);

  const del = ctx.locked(async (r) => {
    const id = idOf(r);
    if (!exists(id)) throw new NotFoundError(`Group '${id}' does not exist`);
    return { json: await apply({ put: [], remove: appsUnder(id) }, r) };
  });
  router.delete('/v2/groups', del);
  router.delete('/v2/groups/*id', del);
}
