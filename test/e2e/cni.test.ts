/**
 * CNI end to end over the backbone + overlay: three agent namespaces on an underlay bridge run
 * the overlay (allocator + agent component, as in overlay.test.ts) and a CniAttacher each, fed
 * the agent's slice of `dcos` from the same snapshot. An app `web` with 2 instances gets 9.0.x.y
 * addresses on two agents, serves inside its namespace, is reached from a task on the third
 * agent, and its containerip name resolves (zone records built from the Mesos state the agent
 * reports with container_status.network_infos) to those addresses.
 *
 * The same scenario through real master/Marathon/agent processes and the dispatcher is
 * test/e2e/cni-cluster.test.ts.
 */
import t from 'tap';
import { createRegistry, FakeClock } from '../../common/index.js';
import { deleteNetns, requireNetns, requireTools, runId, uniqueName } from '../lib/index.js';
import { OverlayAgentComponent } from '../../overlay/index.js';
import { overlayUnderlay, snapshotOf } from '../../overlay/test/harness.js';
import { zoneRecords } from '../../control/index.js';
import type { Snapshot } from '../../contracts/index.js';
import { CniAttacher, sliceOf } from '../../cni/index.js';
import { pluginBinDir } from '../../cni/test/bundle.js';
import { fetchText, serve, tempDir } from '../../cni/test/helpers.js';
import { Netns as NetnsHandle } from '../lib/index.js';

requireNetns();
requireTools('ip', 'bridge', 'nft', 'nsenter');

t.test('app on network dcos across agents', async (t) => {
  const { binDir, main } = await pluginBinDir(t);
  const { nss, addrs, m, master } = await overlayUnderlay(t, 3, 'a', '10.78.0');
  const clock = new FakeClock();
  const agents = nss.map((ns, i) => new OverlayAgentComponent({ agentId: `agent-${i}`, registry: createRegistry(), netns: ns.name, clock, reconcileMs: 60_000 }));
  t.teardown(async () => {
    for (const a of agents) await a.stop();
  });
  m.setAgents(addrs.map((ip, i) => ({ id: `agent-${i}`, ip })));
  await master.sync();
  for (const a of agents) await a.start();
  const snap: Snapshot = await snapshotOf(master.sources(), master.config);
  await Promise.all(agents.map((a) => a.apply(snap)));

  const attachers = await Promise.all(
    nss.map(async (ns, i) =>
      new CniAttacher({
        confDir: await tempDir(t, 'cniconf'),
        binDir,
        dataDir: await tempDir(t, 'cnidata'),
        pluginMain: main,
        networks: (name) => sliceOf(snap, `agent-${i}`, name),
        netnsPrefix: `sx${runId}e${i}`,
        netns: ns.name,
      }),
    ),
  );
  const launch = async (agent: number, taskId: string, ports: { host_port: number; container_port: number; protocol: string }[] = []) => {
    const att = await attachers[agent]!.attach({ task_id: taskId, network: 'dcos', port_mappings: ports, nameservers: ['198.51.100.1'] });
    t.teardown(async () => {
      await attachers[agent]!.detach(taskId, 'dcos').catch(() => undefined);
      deleteNetns(att.netns);
    });
    return { ...att, ns: new NetnsHandle(att.netns), agent, taskId };
  };

  const web = [await launch(0, `web.${uniqueName('i')}`), await launch(1, `web.${uniqueName('i')}`)];
  t.match(web[0]!.ip, /^9\.0\.0\.\d+$/, 'instance on agent-0 gets 9.0.0.y from its slice');
  t.match(web[1]!.ip, /^9\.0\.1\.\d+$/, 'instance on agent-1 gets 9.0.1.y from its slice');
  for (const w of web) await serve(t, w.ns, w.ip, 80, `web@agent-${w.agent}`);

  const client = await launch(2, `client.${uniqueName('i')}`);
  t.match(client.ip, /^9\.0\.2\.\d+$/);
  for (const w of web) t.equal(await fetchText(client.ns, w.ip, 80, 5000), `web@agent-${w.agent}`, `task on agent-2 reaches ${w.ip} on agent-${w.agent}`);

  // What the agents report to the master, and the zone the dispatchers serve from it.
  const state = {
    slaves: addrs.map((ip, i) => ({ id: `agent-${i}`, pid: `slave(1)@${ip}:5051` })),
    frameworks: [
      {
        name: 'marathon',
        tasks: web.map((w) => ({
          id: w.taskId,
          name: 'web',
          slave_id: `agent-${w.agent}`,
          state: 'TASK_RUNNING',
          statuses: [{ state: 'TASK_RUNNING', container_status: { network_infos: [{ ip_addresses: [{ ip_address: w.ip }] }] } }],
        })),
      },
    ],
  };
  const records = zoneRecords(state, [], []).filter((r) => r.name === 'web.marathon.containerip.dcos.thisdcos.directory');
  t.same(records.map((r) => r.data).sort(), web.map((w) => w.ip).sort(), 'web.marathon.containerip.dcos.thisdcos.directory -> both container IPs');

  for (const w of web) await attachers[w.agent]!.detach(w.taskId, 'dcos');
  t.equal(await fetchText(client.ns, web[0]!.ip, 80, 1000), '', 'detached instance unreachable');
});
