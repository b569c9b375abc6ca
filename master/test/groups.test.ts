/**
 * /v2/groups against a real master over HTTP with scripted agents: create a group of apps (ids
 * resolved under its path), list the tree, scale by a factor, a bad app inside (422 naming it,
 * nothing stored), replace a definition, delete (apps gone, tasks killed).
 */
import t from 'tap';
import { eventually } from '../../test/lib/index.js';
import { startMaster, type Harness } from './harness.js';

const group = {
  id: '/prod',
  apps: [{ id: 'web', cmd: 'sleep 1000', instances: 1, cpus: 0.1, mem: 16 }],
  groups: [{ id: 'db', apps: [{ id: '/prod/db/pg', cmd: 'sleep 1000', instances: 2, cpus: 0.1, mem: 16 }] }],
};

const live = (h: Harness, appId: string) => [...h.master.cluster.tasks.values()].filter((x) => x.app_id === appId && x.state === 'TASK_RUNNING' && !x.kill_requested);
const stored = async (h: Harness) => JSON.stringify(await h.master.store.list('marathon/'));
const settled = (h: Harness, what: string) => eventually(async () => (await h.api('/v2/deployments')).body.length === 0, 15000, 20, what);

t.test('create, list, scale, delete a group', async (t) => {
  const h = await startMaster(t);
  const agent = await h.agent(2);

  const post = await h.api('/v2/groups', { body: group });
  t.equal(post.status, 201, 'created');
  t.type(post.body.version, 'string');
  t.type(post.body.deploymentId, 'string');
  const deps = (await h.api('/v2/deployments')).body;
  t.equal(deps.length, 1, 'one deployment for the group, listed once');
  t.same(deps[0].affectedApps.sort(), ['/prod/db/pg', '/prod/web']);
  t.equal(deps[0].id, post.body.deploymentId);
  await eventually(() => live(h, '/prod/web').length === 1 && live(h, '/prod/db/pg').length === 2, 15000, 20, 'every app of the group runs');
  await settled(h, 'group deployment done');

  t.equal((await h.api('/v2/apps/prod/db/pg')).body.app.instances, 2, 'apps under the group are ordinary apps');
  t.equal((await h.api('/v2/groups', { body: group })).status, 409, 'POST of an existing group -> 409');

  const root = (await h.api('/v2/groups')).body;
  t.equal(root.id, '/');
  t.same(root.apps, []);
  t.equal(root.groups.length, 1);
  const prod = root.groups[0];
  t.equal(prod.id, '/prod');
  t.same(prod.apps.map((a: any) => a.id), ['/prod/web']);
  t.same(prod.groups.map((g: any) => g.id), ['/prod/db']);
  t.same(prod.groups[0].apps.map((a: any) => [a.id, a.instances]), [['/prod/db/pg', 2]]);
  t.type(root.version, 'string');
  t.same((await h.api('/v2/groups/prod')).body, prod, 'GET /v2/groups/{id} is the same subtree');
  t.equal((await h.api('/v2/groups/prod/db')).body.apps[0].id, '/prod/db/pg', 'nested group');
  t.equal((await h.api('/v2/groups/nope')).status, 404, 'unknown group -> 404');

  const before = live(h, '/prod/db/pg').map((x) => x.info.task_id);
  const scale = await h.api('/v2/groups/prod', { method: 'PUT', body: { scaleBy: 2 } });
  t.equal(scale.status, 200, 'scaled');
  t.type(scale.body.deploymentId, 'string');
  t.same([(await h.api('/v2/apps/prod/web')).body.app.instances, (await h.api('/v2/apps/prod/db/pg')).body.app.instances], [2, 4], 'instances doubled');
  await eventually(() => live(h, '/prod/web').length === 2 && live(h, '/prod/db/pg').length === 4, 15000, 20, 'doubled tasks run');
  t.ok(before.every((id) => live(h, '/prod/db/pg').some((x) => x.info.task_id === id)), 'scaling keeps the running tasks');
  await settled(h, 'scale deployment done');

  const over = await h.api('/v2/groups/prod', { method: 'PUT', body: { scaleBy: 1000 } });
  t.equal(over.status, 422, 'scale over the instances bound -> 422');
  t.match(over.body.details[0].errors.join(' '), /app \/prod\/db\/pg: 4 x 1000 = 4000 instances.*SEXTANT_MAX_INSTANCES_PER_APP/);

  const del = await h.api('/v2/groups/prod', { method: 'DELETE' });
  t.equal(del.status, 200, 'deleted');
  t.type(del.body.deploymentId, 'string');
  await eventually(() => [...h.master.cluster.tasks.values()].every((x) => !x.app_id?.startsWith('/prod/')), 15000, 20, 'every task of the group gone');
  t.equal(agent.running.size, 0, 'agent runs nothing');
  t.equal(new Set(agent.killed).size, 6, 'all 6 tasks killed');
  t.same((await h.api('/v2/apps')).body.apps, [], 'apps gone');
  t.same(await h.master.store.list('marathon/apps/'), [], 'store holds no app');
  t.equal((await h.api('/v2/groups/prod')).status, 404, 'the group is gone with its apps');
  t.equal((await h.api('/v2/groups/prod', { method: 'DELETE' })).status, 404, 'DELETE of an unknown group -> 404');
  await settled(h, 'stop deployment done');
});

t.test('a bad app inside a group is a 422 naming it, and nothing is stored', async (t) => {
  const h = await startMaster(t);
  await h.agent(2);
  t.equal((await h.api('/v2/apps', { body: { id: '/other', cmd: 'sleep 1000', cpus: 0.1, mem: 16 } })).status, 201);
  const before = await stored(h);

  const rows: [string, unknown, string, RegExp][] = [
    ['schema: negative instances', { id: '/prod', apps: [group.apps[0], { id: 'bad', cmd: 'x', instances: -1 }] }, '/apps/1/instances', /minimum 0/],
    ['parser: no cmd, in a subgroup', { id: '/prod', apps: [group.apps[0]], groups: [{ id: 'db', apps: [{ id: 'pg' }] }] }, '/groups/0/apps/0/cmd', /^app \/prod\/db\/pg: /],
    ['app outside its group', { id: '/prod', apps: [{ id: '/elsewhere/web', cmd: 'x' }] }, '/apps/0/id', /not directly in group \/prod/],
    ['same app twice', { id: '/prod', apps: [group.apps[0], group.apps[0]] }, '/apps/1/id', /given twice/],
    ['bad group id', { id: '/Prod!', apps: [group.apps[0]] }, '/id', /not a valid group path/],
    ['empty group', { id: '/prod', apps: [] }, '/apps', /empty group is not stored/],
    ['app path is a group of another app', { id: '/other', apps: [{ id: 'x', cmd: 'x' }] }, '/apps', /\/other would be both an app and the group of \/other\/x/],
  ];
  for (const [what, body, path, msg] of rows) {
    const r = await h.api('/v2/groups', { body });
    t.equal(r.status, 422, `${what} -> 422`);
    t.equal(r.body.message, 'Object is not valid');
    const d = r.body.details.find((x: any) => x.path === path);
    t.ok(d, `${what}: details name ${path} (got ${JSON.stringify(r.body.details)})`);
    t.match(d?.errors.join(' ') ?? '', msg, `${what}: says why`);
  }
  t.equal(await stored(h), before, 'store unchanged');
  t.equal((await h.api('/v2/groups/prod')).status, 404, 'no group created');

  t.equal((await h.api('/v2/groups', { body: group })).status, 201);
  const withGroup = await stored(h);
  const badPut = await h.api('/v2/groups/prod', { method: 'PUT', body: { apps: [{ id: 'web', cmd: 'x', cpus: 'lots' }] } });
  t.equal(badPut.status, 422, 'bad PUT definition -> 422');
  t.ok(badPut.body.details.some((d: any) => d.path === '/apps/0/cpus'));
  t.equal((await h.api('/v2/groups/prod', { method: 'PUT', body: { scaleBy: -1 } })).status, 422, 'negative scaleBy -> 422');
  t.equal((await h.api('/v2/groups/nope', { method: 'PUT', body: { scaleBy: 2 } })).status, 404, 'scaling an unknown group -> 404');
  t.equal(await stored(h), withGroup, 'store unchanged by the refused changes');

  const api = (await h.api('/openapi.json')).body;
  const schema = api.paths['/v2/groups'].post.requestBody.content['application/json'].schema;
  t.equal(schema.title, 'Group', 'the route carries the Group schema');
  t.equal(schema.properties.apps.items.title, 'AppDefinition', 'apps are checked as AppDefinitions');
  t.equal(api.paths['/v2/groups/{id}'].put.requestBody.content['application/json'].schema.title, 'GroupUpdate');
});

t.test('PUT a definition replaces what it names; a running deployment is 409 unless forced', async (t) => {
  const h = await startMaster(t);
  const agent = await h.agent(2, { autoRun: false });
  t.equal((await h.api('/v2/groups', { body: group })).status, 201);
  await eventually(() => agent.launched.length === 3, 15000, 20, '3 launches');

  const put = { apps: [{ id: 'api', cmd: 'sleep 1000', cpus: 0.1, mem: 16 }] };
  const locked = await h.api('/v2/groups/prod', { method: 'PUT', body: put });
  t.equal(locked.status, 409, 'deployment in progress -> 409');
  t.match(locked.body.message, /StartApplication of \/prod\/web, \/prod\/db\/pg|StartApplication of \/prod\/db\/pg, \/prod\/web/);
  t.equal(locked.body.deployments.length, 1);

  const forced = await h.api('/v2/groups/prod?force=true', { method: 'PUT', body: put });
  t.equal(forced.status, 200, 'forced');
  const ids = (await h.api('/v2/apps')).body.apps.map((a: any) => a.id).sort();
  t.same(ids, ['/prod/api', '/prod/db/pg'], 'apps replaced: web stopped, api started, the subgroup (not named) kept');
  agent.autoRun = true;
  for (const [id, state] of [...agent.running]) if (state === 'TASK_STAGING') await agent.report(id, 'TASK_RUNNING');
  await eventually(() => new Set(agent.killed).size === 1 && agent.launched.length === 4, 15000, 20, 'the web task killed, api launched');
  t.equal(agent.launched.find((l) => agent.killed.includes(l.task_id))?.name, 'web.prod', 'the killed task is web');
  await settled(h, 'replacement done');
});
