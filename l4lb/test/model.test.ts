import t from 'tap';
import { backendWeight, vipsFromState } from '../model.js';

// Address plan: agents 10.0.0.1 (a1), 10.0.0.2 (a2); overlay task IPs 9.0.1.x.
const agents = [
  { id: 'a1', pid: 'slave(1)@10.0.0.1:5051', hostname: 'h1' },
  { id: 'a2', pid: 'slave(1)@10.0.0.2:5051', hostname: 'h2' },
];

function task(id: string, slave: string, state: string, port: number, labels: { key: string; value: string }[], extra: Record<string, unknown> = {}) {
  return {
    id,
    name: 'web',
    slave_id: slave,
    state,
    statuses: [{ state, timestamp: 1, ...(extra.status as object) }],
    discovery: { name: 'web', ports: { ports: [{ number: port, protocol: 'tcp', labels: { labels } }] } },
    ...extra,
  };
}

t.test('weights from task state and health', async (t) => {
  const rows: [string, Record<string, unknown>, number | undefined][] = [
    ['running, no check', { state: 'TASK_RUNNING' }, 1],
    ['running, healthy', { state: 'TASK_RUNNING', statuses: [{ healthy: true, timestamp: 2 }] }, 1],
    ['running, unhealthy', { state: 'TASK_RUNNING', statuses: [{ healthy: true, timestamp: 1 }, { healthy: false, timestamp: 2 }] }, 0],
    ['running, check not yet passed', { state: 'TASK_RUNNING', health_check: { protocol: 'HTTP' } }, 0],
    ['killing', { state: 'TASK_KILLING' }, 0],
    ['staging', { state: 'TASK_STAGING' }, undefined],
    ['finished', { state: 'TASK_FINISHED' }, undefined],
  ];
  for (const [name, task, w] of rows) t.equal(backendWeight(task), w, name);
});

t.test('VIPs and backends from Mesos state', async (t) => {
  const state = {
    slaves: agents,
    frameworks: [
      {
        name: 'marathon',
        tasks: [
          task('web.1', 'a1', 'TASK_RUNNING', 31000, [{ key: 'VIP_0', value: '/web:80' }]),
          task('web.2', 'a2', 'TASK_RUNNING', 31001, [{ key: 'VIP_0', value: '/web:80' }], { statuses: [{ state: 'TASK_RUNNING', healthy: false, timestamp: 1 }] }),
          task('web.3', 'a2', 'TASK_FAILED', 31002, [{ key: 'VIP_0', value: '/web:80' }]),
          task('ov.1', 'a1', 'TASK_RUNNING', 8080, [{ key: 'VIP_1', value: '11.9.9.9:80' }], {
            statuses: [{ state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ name: 'dcos', ip_addresses: [{ ip_address: '9.0.1.5' }] }] } }],
          }),
          task('bad.1', 'a1', 'TASK_RUNNING', 31005, [{ key: 'VIP_0', value: '/bad:notaport' }]),
          { id: 'tl.1', name: 'tl', slave_id: 'a2', state: 'TASK_RUNNING', resources: { ports: '[32000-32001]' }, labels: [{ key: 'VIP_PORT1', value: 'udp://dns:53' }], statuses: [] },
        ],
      },
    ],
  };
  const { vips, problems } = vipsFromState(state);
  t.same(
    vips.map((v) => [v.id, v.backends.map((b) => `${b.ip}:${b.port}/${b.weight}`)]),
    [
      ['tcp/11.9.9.9:80', ['9.0.1.5:8080/1']],
      ['tcp/web.marathon:80/4', ['10.0.0.1:31000/1', '10.0.0.2:31001/0']],
      ['udp/dns.marathon:53/4', ['10.0.0.2:32001/1']],
    ],
  );
  t.equal(problems.length, 1, 'one bad label reported');
  t.match(problems[0], { key: 'VIP_0', value: '/bad:notaport', reason: /not a number/, where: /bad\.1/ });
});
