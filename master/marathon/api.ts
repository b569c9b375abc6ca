/**
 * The Marathon REST API (served on the marathon port): /v2/apps, /v2/apps/{id}/tasks, /v2/tasks,
 * /v2/groups (groups-api.ts), /v2/deployments, /v2/info, /v2/leader, /v2/events (SSE), /ping. App ids may be nested, so app
 * routes take the rest of the path (`*id`).
 */
import { NotFoundError, ValidationError, type Reply, type Request, type Router } from '../../common/index.js';
import type { TaskRecord } from '../model.js';
import { MESOS_VERSION } from '../state-json.js';
import type { Limits } from '../limits.js';
import { normalizeId } from './app.js';
import { appDefinitionSchema, appUpdateSchema } from './schema.js';
import type { EventBus } from './events.js';
import { appJson, queueJson, taskJson } from './json.js';
import { LockedError } from './deployments.js';
import type { MarathonScheduler } from './scheduler.js';
import { groupRoutes } from './groups-api.js';

export interface MarathonApiContext {
  scheduler: MarathonScheduler;
  events: EventBus;
  liveTasks(): Iterable<TaskRecord>;
  /** `ip:port` of this Marathon and of the Mesos master. */
  self(): string;
  master(): string;
  frameworkId(): string;
  limits: Limits;
}

export const MARATHON_VERSION = '1.11.0';

export function marathonRoutes(router: Router, ctx: MarathonApiContext): void {
  const s = ctx.scheduler;
  const tasksOf = (appId: string) => [...ctx.liveTasks()].filter((t) => t.app_id === appId);
  const idOf = (raw: string) => normalizeId(raw) ?? raw;
  const force = (r: Request) => r.query.get('force') === 'true';
  const show = (appId: string, embed: boolean) => {
    const st = s.apps.get(appId);
    if (!st) throw new NotFoundError(`App '${appId}' does not exist`);
    return appJson(st, tasksOf(appId), s.deployments.get(appId), embed, s.lastFailure.get(appId));
  };
  const bodyObject = (r: Request): Record<string, unknown> => {
    if (typeof r.body !== 'object' || r.body === null || Array.isArray(r.body)) throw new ValidationError([{ path: '/', errors: ['expected an app definition object'] }]);
    return r.body as Record<string, unknown>;
  };

  router.get('/ping', () => ({ text: 'pong' }));
  const create = { summary: 'create an app', body: appDefinitionSchema(ctx.limits), nullIsAbsent: true };
  const update = { summary: 'change an app (fields given replace the current ones)', body: appUpdateSchema(ctx.limits), nullIsAbsent: true, query: { force: 'true: override a running deployment' } };
  router.post('/v2/apps', async (r) => {
    const app = s.admitNew(r.body);
    const { state, deployment } = await s.createApp(app);
    ctx.events.emit('api_post_event', { clientIp: r.raw.socket.remoteAddress ?? '', uri: `/v2/apps${app.id}`, appDefinition: show(app.id, false) });
    return { status: 201, json: { ...show(state.app.id, false), deployments: [{ id: deployment.id }], tasks: [] }, headers: { location: `/v2/apps${app.id}` } };
  }, create);
  router.get('/v2/apps', (r) => {
    const embed = r.query.getAll('embed').some((e) => e === 'apps.tasks' || e === 'app.tasks');
    const filter = r.query.get('id');
    const apps = [...s.apps.keys()].filter((id) => !filter || id.includes(filter)).sort();
    return { json: { apps: apps.map((id) => show(id, embed)) } };
  });
  router.get('/v2/apps/*id', (r) => {
    const raw = r.params.id!;
    if (raw.endsWith('/tasks') && s.apps.has(idOf(raw.slice(0, -6)))) {
      const appId = idOf(raw.slice(0, -6));
      return { json: { tasks: tasksOf(appId).map((t) => taskJson(t, s.apps.get(appId))) } };
    }
    return { json: { app: show(idOf(raw), true) } };
  });
  const put = async (r: Request): Promise<Reply> => {
    const id = idOf(r.params.id!);
    if (!normalizeId(r.params.id!)) throw new ValidationError([{ path: '/id', errors: [`'${r.params.id}' is not a valid path`] }]);
    const { state, deployment, created } = await s.updateApp(id, bodyObject(r), force(r));
    ctx.events.emit('api_post_event', { clientIp: r.raw.socket.remoteAddress ?? '', uri: `/v2/apps${id}`, appDefinition: show(id, false) });
    if (created) return { status: 201, json: { ...show(id, false), deployments: [{ id: deployment.id }] }, headers: { location: `/v2/apps${id}` } };
    return { json: { version: state.version, deploymentId: deployment.id } };
  };
  router.put('/v2/apps/*id', locked(put), update);
  router.patch('/v2/apps/*id', locked(put), update);
  router.post('/v2/apps/*id', locked(async (r): Promise<Reply> => {
    const raw = r.params.id!;
    if (!raw.endsWith('/restart')) throw new NotFoundError(`no route for ${r.path}`);
    const { state, deployment } = await s.restartApp(idOf(raw.slice(0, -8)), force(r));
    return { json: { version: state.version, deploymentId: deployment.id } };
  }));
  router.delete('/v2/apps/*id', async (r) => {
    const { version, deployment } = await s.deleteApp(idOf(r.params.id!));
    return { json: { version, deploymentId: deployment.id } };
  });
  router.get('/v2/tasks', (r) => {
    const want = r.query.getAll('status').map((x) => `TASK_${x.toUpperCase()}`);
    const tasks = [...ctx.liveTasks()].filter((t) => t.app_id && (!want.length || want.includes(t.state)));
    return { json: { tasks: tasks.map((t) => taskJson(t, s.apps.get(t.app_id!))) } };
  });
  router.get('/v2/queue', () => ({ json: { queue: s.queue().map((q) => queueJson(q, show(q.appId, false))) } }));
  router.delete('/v2/queue/*id', (r) => {
    const raw = r.params.id!;
    if (!raw.endsWith('/delay')) throw new NotFoundError(`no route for ${r.path}`);
    s.resetDelay(idOf(raw.slice(0, -6)));
    return { status: 204, text: '' };
  });
  groupRoutes(router, { scheduler: s, limits: ctx.limits, show: (id) => show(id, false), locked });
  router.get('/v2/deployments', () => ({ json: s.deploymentList() }));
  router.get('/v2/leader', () => ({ json: { leader: ctx.self() } }));
  router.get('/v2/info', () => ({ json: info(ctx) }));
  router.get('/v2/events', (r, res) => {
    ctx.events.attach(r.raw, res, r.query.getAll('event_type'), r.raw.socket.remoteAddress ?? '');
    return { hijacked: true };
  });
  router.serveOpenapi('Sextant Marathon API', MARATHON_VERSION);
}

/** A 409 for a locked app carries the deployments (Marathon's shape) besides the message naming what they wait for. */
function locked(h: (r: Request) => Promise<Reply>): (r: Request) => Promise<Reply> {
  return async (r) => {
    try {
      return await h(r);
    } catch (e) {
      if (!(e instanceof LockedError)) throw e;
      return { status: 409, json: { message: e.message, deployments: [{ id: e.deployment.id, waitingFor: e.waitingFor }] } };
    }
  };
}

function info(ctx: MarathonApiContext): Record<string, unknown> {
  return {
    name: 'marathon',
    version: MARATHON_VERSION,
    /** The versions whose APIs Sextant serves (Marathon here, Mesos on the Mesos port's /version). */
    emulates: { marathon: MARATHON_VERSION, mesos: MESOS_VERSION },
    buildref: 'sextant',
    elected: true,
    leader: ctx.self(),
    frameworkId: ctx.frameworkId(),
    marathon_config: { master: ctx.master(), framework_name: 'marathon', hostname: ctx.self().split(':')[0], mesos_role: '*', task_launch_timeout: 300000 },
    zookeeper_config: {},
    http_config: { http_port: Number(ctx.self().split(':').at(-1)) },
    event_subscriber: { type: 'sse' },
  };
}
