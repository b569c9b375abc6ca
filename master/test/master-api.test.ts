/**
 * The master over real HTTP with scripted agents: Marathon API, launches, Mesos state format,
 * deployments, events, scale, rolling update, delete, bad input.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { eventually } from '../../test/lib/index.js';
import { startMaster, postRaw } from './harness.js';

// A Mesos /master/state in the real format (test/fixtures/README.md): the keys ours must serve.
const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/mesos-state.json', import.meta.url), 'utf8'));

const webApp = {
  id: '/group/web',
  cmd: 'python3 -m http.server $PORT0',
  instances: 2,
  cpus: 0.5,
  mem: 64,
  env: { GREETING: 'hi' },
  labels: { team: 'net' },
  portDefinitions: [{ port: 0, name: 'http', protocol: 'tcp', labels: { VIP_0: '/web:80' } }],
  constraints: [['hostname', 'UNIQUE']],
};

function keys(o: object): string[] {
  return Object.keys(o).sort();
}
function missing(want: object, got: object): string[] {
  return keys(want).filter((k) => !(k in got));
}

t.test('apps launch on agents and appear in Marathon and Mesos formats', async (t) => {
  const h = await startMaster(t);
  const a1 = await h.agent(2, { autoRun: false });
  const a2 = await h.agent(3, { autoRun: false });

  const post = await h.api('/v2/apps', { body: webApp });
  t.equal(post.status, 201, 'created');
  t.equal(post.body.id, '/group/web');
  t.equal(post.body.deployments.length, 1);

  await eventually(() => a1.launched.length === 1 && a2.launched.length === 1, 5000, 20, 'one launch per agent (UNIQUE hostname)');
  const deps = (await h.api('/v2/deployments')).body;
  t.equal(deps.length, 1, 'deployment listed while in progress');
  t.equal(deps[0].currentActions[0].action, 'StartApplication');

  const task = a1.launched[0]!;
  t.equal(task.name, 'web.group', 'task name app.group');
  t.match(task.task_id, /^group_web\.[0-9a-f-]{36}$/, 'task id group_app.<uuid>');
  t.equal(task.ports.length, 1);
  t.ok(task.ports[0]! >= 31000 && task.ports[0]! <= 31099, 'host port from the agent range');
  t.same(
    { PORT0: task.env.PORT0, PORT: task.env.PORT, PORTS: task.env.PORTS, PORT_HTTP: task.env.PORT_HTTP, HOST: task.env.HOST, MESOS_TASK_ID: task.env.MESOS_TASK_ID, MARATHON_APP_ID: task.env.MARATHON_APP_ID, GREETING: task.env.GREETING },
    { PORT0: String(task.ports[0]), PORT: String(task.ports[0]), PORTS: String(task.ports[0]), PORT_HTTP: String(task.ports[0]), HOST: 'agent2.test', MESOS_TASK_ID: task.task_id, MARATHON_APP_ID: '/group/web', GREETING: 'hi' },
    'task environment',
  );
  t.same(task.labels, [{ key: 'team', value: 'net' }], 'app labels -> task labels');
  t.same(task.discovery, { visibility: 'FRAMEWORK', name: 'web.group', ports: { ports: [{ number: task.ports[0], name: 'http', protocol: 'tcp', labels: { labels: [{ key: 'VIP_0', value: '/web:80' }] } }] } });

  for (const a of [a1, a2]) for (const l of a.launched) t.equal(await a.report(l.task_id, 'TASK_RUNNING'), 200);
  await eventually(async () => (await h.api('/v2/deployments')).body.length === 0, 5000, 20, 'deployment finished');
  const app = (await h.api('/v2/apps/group/web')).body.app;
  t.equal(app.tasksRunning, 2);
  t.equal(app.tasks.length, 2);
  t.same(app.tasks.map((x: any) => x.host).sort(), ['agent2.test', 'agent3.test']);
  const appTasks = (await h.api('/v2/apps/group/web/tasks')).body.tasks;
  t.equal(appTasks.length, 2, '/v2/apps/{id}/tasks');
  t.equal((await h.api('/v2/tasks')).body.tasks.length, 2, '/v2/tasks');

  const st = await h.state();
  t.same(missing(fixture, st), [], 'top-level keys of Mesos state present');
  t.same(missing(fixture.slaves[0], st.slaves[0]), [], 'slave keys present');
  t.same(missing(fixture.frameworks[0], st.frameworks[0]), [], 'framework keys present');
  const ft = fixture.frameworks.flatMap((f: any) => f.tasks).find((x: any) => x.discovery);
  const mt = st.frameworks[0].tasks[0];
  t.same(missing(ft, mt), [], 'task keys present');
  t.same(JSON.parse(JSON.stringify(h.master.state())), st, 'MasterHandle.state() equals the served JSON');
  t.equal(st.leader, `master@${h.mesos}`);
  t.equal(st.pid, st.leader);
  const slave = st.slaves.find((s: any) => s.id === a1.id);
  t.equal(slave.pid, `slave(1)@${h.ip(2)}:${a1.port}`);
  t.equal(slave.resources.ports, '[31000-31099]');
  t.equal(st.frameworks[0].name, 'marathon');
  t.match(st.frameworks[0].pid, new RegExp(`@${h.ip(1).replace(/\./g, '\\.')}:`));
  const t1 = st.frameworks[0].tasks.find((x: any) => x.id === task.task_id);
  t.equal(t1.state, 'TASK_RUNNING');
  t.equal(t1.slave_id, a1.id);
  t.equal(t1.framework_id, st.frameworks[0].id);
  t.equal(t1.resources.ports, `[${task.ports[0]}-${task.ports[0]}]`);
  t.equal(t1.statuses.at(-1).container_status.network_infos[0].ip_addresses[0].ip_address, h.ip(2), 'host task IP is the agent IP');
  t.equal(t1.discovery.name, 'web.group');
  t.same(t1.labels, [{ key: 'team', value: 'net' }]);
  for (const p of ['/state', '/master/state.json', '/state.json']) {
    const r = await fetch(`http://${h.mesos}${p}`);
    t.equal(r.status, 200, p);
  }
  t.equal((await fetch(`http://${h.mesos}/health`)).status, 200, '/health');
  t.equal(((await (await fetch(`http://${h.mesos}/version`)).json()) as any).version, '1.11.0', '/version');
  const redirect = await fetch(`http://${h.mesos}/master/redirect`, { redirect: 'manual' });
  t.equal(redirect.status, 307);
  t.equal(redirect.headers.get('location'), `//${h.mesos}`);
  t.match(await (await fetch(`http://${h.mesos}/metrics`)).text(), /sextant_master_tasks\{state="TASK_RUNNING"\} 2/);
  t.equal((await h.api('/v2/leader')).body.leader, h.marathon);
  t.equal((await h.api('/v2/info')).body.name, 'marathon');
  t.same((await h.api('/v2/info')).body.emulates, { marathon: '1.11.0', mesos: '1.11.0' }, '/v2/info names the Marathon and Mesos versions emulated');
});

t.test('bad input gets 400/422/409 and changes nothing', async (t) => {
  const h = await startMaster(t);
  await h.agent(2);
  t.equal((await h.api('/v2/apps', { body: { id: '/web', cmd: 'sleep 1000', instances: 1 } })).status, 201);
  const snapshot = async () => JSON.stringify([(await h.api('/v2/apps')).body.apps.map((a: any) => ({ ...a, tasksRunning: 0, tasksStaged: 0, tasks: 0, deployments: 0 })), await h.master.store.list('marathon/')]);
  const before = await snapshot();

  const malformed = await postRaw(`http://${h.marathon}/v2/apps`, '{"id": "/x", "cmd": ');
  t.equal(malformed.status, 400, 'malformed JSON -> 400');
  const rows: [string, unknown, string][] = [
    ['negative instances', { id: '/x', cmd: 'sleep 1', instances: -1 }, '/instances'],
    ['wrong type', { id: '/x', cmd: 'sleep 1', cpus: 'lots' }, '/cpus'],
    ['unknown constraint operator', { id: '/x', cmd: 'sleep 1', constraints: [['hostname', 'NEVER']] }, '/constraints/0'],
    ['bad id', { id: '/X!', cmd: 'sleep 1' }, '/id'],
  ];
  for (const [what, body, path] of rows) {
    const r = await h.api('/v2/apps', { body });
    t.equal(r.status, 422, `${what} -> 422`);
    t.equal(r.body.message, 'Object is not valid');
    t.ok(r.body.details.some((d: any) => d.path === path && d.errors.length), `${what}: details name ${path}`);
  }
  const dup = await h.api('/v2/apps', { body: { id: '/web', cmd: 'sleep 1' } });
  t.equal(dup.status, 409, 'duplicate id -> 409');
  const badPut = await h.api('/v2/apps/web', { method: 'PUT', body: { instances: -3 } });
  t.equal(badPut.status, 422, 'bad PUT -> 422');
  t.equal((await h.api('/v2/apps/nope', { method: 'DELETE' })).status, 404, 'DELETE unknown -> 404');
  t.equal(await snapshot(), before, 'stored apps unchanged');
});

t.test('scale, rolling update, delete, events', async (t) => {
  const h = await startMaster(t);
  const a = await h.agent(2);
  const events: any[] = [];
  const sse = await new Promise<http.IncomingMessage>((resolve) => http.get(`http://${h.marathon}/v2/events`, resolve));
  t.teardown(() => sse.destroy());
  let buf = '';
  sse.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (data) events.push(JSON.parse(data.slice(6)));
    }
  });
  t.equal(sse.headers['content-type'], 'text/event-stream');

  await h.api('/v2/apps', { body: { id: '/svc', cmd: 'sleep 1000', instances: 2, cpus: 0.1, mem: 16 } });
  const running = () => [...h.master.cluster.tasks.values()].filter((x) => x.app_id === '/svc' && x.state === 'TASK_RUNNING' && !x.kill_requested);
  await eventually(() => running().length === 2, 5000, 20, '2 running');
  await eventually(() => events.some((e) => e.eventType === 'deployment_success'), 5000, 20, 'deployment_success event');
  t.ok(events.some((e) => e.eventType === 'event_stream_attached'));
  const su = events.find((e) => e.eventType === 'status_update_event' && e.taskStatus === 'TASK_RUNNING');
  t.ok(su, 'status_update_event');
  t.equal(su.appId, '/svc');
  t.same(su.ipAddresses, [{ ipAddress: h.ip(2), protocol: 'IPv4' }]);
  t.ok(events.some((e) => e.eventType === 'deployment_info'), 'deployment_info event');

  // Scale up: no restart of the running ones.
  const first = running().map((x) => x.info.task_id).sort();
  const scale = await h.api('/v2/apps/svc', { method: 'PUT', body: { instances: 3 } });
  t.equal(scale.status, 200);
  t.ok(scale.body.deploymentId);
  await eventually(() => running().length === 3, 5000, 20, '3 running');
  t.same(first.filter((id) => running().some((x) => x.info.task_id === id)), first, 'scale keeps existing tasks');
  await eventually(async () => (await h.api('/v2/deployments')).body.length === 0, 5000, 20, 'scale deployment done');

  // Scale down kills one.
  await h.api('/v2/apps/svc', { method: 'PUT', body: { instances: 2 } });
  await eventually(() => running().length === 2 && a.killed.length === 1, 5000, 20, 'scaled down to 2');
  await eventually(async () => (await h.api('/v2/deployments')).body.length === 0, 5000, 20, 'scale-down deployment done');

  // Config change: rolling replace, never below 2 ready.
  const before = running().map((x) => x.info.task_id);
  let minReady = Infinity;
  const off = h.master.onChange(() => (minReady = Math.min(minReady, running().length)));
  t.teardown(off);
  t.equal((await h.api('/v2/apps/svc', { method: 'PUT', body: { cmd: 'sleep 2000' } })).status, 200, 'update accepted');
  await eventually(() => running().length === 2 && running().every((x) => !before.includes(x.info.task_id)), 5000, 20, 'all replaced');
  t.ok(minReady >= 2, `never below 2 running during the update (min ${minReady})`);
  t.ok(running().every((x) => x.info.command.value === 'sleep 2000'));
  await eventually(async () => (await h.api('/v2/deployments')).body.length === 0, 5000, 20, 'restart deployment done');

  // Delete kills everything.
  const del = await h.api('/v2/apps/svc', { method: 'DELETE' });
  t.equal(del.status, 200);
  await eventually(() => [...h.master.cluster.tasks.values()].every((x) => x.app_id !== '/svc'), 5000, 20, 'no task of the app left');
  t.equal(a.running.size, 0, 'agent runs nothing');
  t.equal((await h.api('/v2/apps/svc')).status, 404);
  await eventually(() => events.some((e) => e.eventType === 'app_terminated_event'), 2000, 20, 'app_terminated_event');
});
