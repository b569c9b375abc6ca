// The master plugin against a fake MasterHandle: a task that turns TASK_RUNNING resolves within 1 s.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createRegistry } from '../../../common/metrics.js';
import { freePort, loopbackBlock, masterHost, requireTools } from '../../../test/lib/index.js';
import type { MasterHandle } from '../../../contracts/index.js';
import { mesosDnsMasterPlugin } from '../plugin.js';

const pexec = promisify(execFile);
const { dig } = requireTools('dig');

t.test('plugin regenerates on master change, sub-second', async (t) => {
  const ip = loopbackBlock()(1);
  const [port, httpPort] = [await freePort(ip), await freePort(ip)];
  const tasks: unknown[] = [];
  const listeners = new Set<() => void>();
  const m: MasterHandle = {
    masterId: 'm1', ip, port: 5050,
    state: () => ({
      leader: `master@${ip}:5050`,
      slaves: [{ id: 'S-0', pid: `slave(1)@${ip}:5051`, hostname: ip }],
      frameworks: [{ name: 'marathon', pid: `scheduler-1@${ip}:8080`, tasks }],
    }),
    onChange: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
    store: undefined as never,
    routes: () => undefined,
    registry: createRegistry(),
  };
  const comp = mesosDnsMasterPlugin({ config: { Port: port, HttpPort: httpPort } })(masterHost(m, 'mesos-dns'));
  await comp!.start();
  t.teardown(() => comp!.stop());
  const q = async () => (await pexec(dig, [`@${ip}`, '-p', String(port), 'web.marathon.mesos', 'A', '+short', '+tries=1', '+time=1'])).stdout.trim();
  t.equal(await q(), '', 'not there yet');
  tasks.push({ id: 'web.1', name: 'web', slave_id: 'S-0', state: 'TASK_RUNNING', statuses: [{ state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: '9.0.1.5' }] }] } }], resources: { ports: '[31000-31000]' } });
  const t0 = Date.now();
  for (const l of listeners) l();
  let got = '';
  while (Date.now() - t0 < 1000 && got !== '9.0.1.5') got = await q();
  t.equal(got, '9.0.1.5', `resolved after ${Date.now() - t0} ms`);
  t.ok(Date.now() - t0 < 1000);
  const leader = (await pexec(dig, [`@${ip}`, '-p', String(port), 'leader.mesos', 'A', '+short'])).stdout.trim();
  t.equal(leader, ip, 'master records from the handle');
});
