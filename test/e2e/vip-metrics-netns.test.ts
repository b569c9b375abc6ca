/**
 * Issue #28 end to end, on a real `sextant up --netns` (root) with the nftables L4LB (the kernel
 * counts connections and refused ones per backend; its DNAT picks a backend at random): an app with a
 * named VIP and two instances, one serving and one whose port is closed (it sleeps); a client on
 * agent 1 connects N times. The masters' aggregator (`/net/v1/vips/{vip}`) shows
 * the dead backend's failures seen from agent 1 and the live one's successes; with
 * SEXTANT_VIP_DRAIN_FAILING the dead backend's weight goes to 0 on the agents, the live one keeps its
 * weight; `sextant vip ls|show` print the same. Needs the agents' `GET /net/v1/metrics` (vipmetrics).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { eventually, requireNetns, uniqueName } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { startNetnsUp } from './netns-up.js';

t.setTimeout(240_000);
const pexec = promisify(execFile);
const client = fileURLToPath(new URL('../../l4lb/test/fixtures/client.mjs', import.meta.url));
const server = fileURLToPath(new URL('../../l4lb/test/fixtures/server.mjs', import.meta.url));
const NAME = 'web.marathon.l4lb.thisdcos.directory';
const N = 60;

interface BackendView {
  backend: string;
  weight: number | null;
  unhealthy: boolean;
  drained: boolean;
  reason?: string;
  failing_nodes: string[];
  last_minute: { connections: number; failures: number; success_rate: number | null };
  nodes: { node: string; last_minute: { connections: number; failures: number } }[];
}

t.test('VIP metrics from the agents, aggregated on the master; the dead backend drained', async (t) => {
  requireNetns();
  const lockDir = mkdtempSync(join(tmpdir(), `${uniqueName('vipm')}-`));
  t.teardown(() => rmSync(lockDir, { recursive: true, force: true }));
  const c = await startNetnsUp(t, 2, {
    SEXTANT_L4LB_DRIVER: 'nftables',
    SEXTANT_VIP_DRAIN_FAILING: '1',
    SEXTANT_VIP_METRICS_INTERVAL_MS: '1000',
    SEXTANT_VIP_FAILURE_MIN_CONNECTIONS: '5',
  });
  const agentGet = async (i: number, path: string) => {
    const a = c.agents[i - 1]!;
    const js = `fetch("http://${a.ip}:"+process.argv[1]+"${path}").then(async r=>process.stdout.write(JSON.stringify({status:r.status,body:await r.text()})))`;
    const port = new URL(c.up.output().match(/^agent 1: pid \d+ (http:\/\/\S+)/m)![1]!).port;
    return JSON.parse(await c.inAgent(i, [process.execPath, '-e', js, port])) as { status: number; body: string };
  };
  const own = await agentGet(1, '/net/v1/metrics');
  if (own.status !== 200) {
    t.fail(`agent 1 answers GET /net/v1/metrics with ${own.status} (${own.body.slice(0, 200)}): the agents' side of issue #28 (vipmetrics) is not in this build`);
    return;
  }

  // One instance serves (the first to take the lock), the other sleeps: its port is closed.
  const lock = join(lockDir, 'live');
  const cmd = `if mkdir ${lock} 2>/dev/null; then echo "$MESOS_TASK_ID" > ${lock}/owner; exec '${process.execPath}' ${server} live "$PORT0"; else exec sleep 100000; fi`;
  const app = { id: '/web', instances: 2, cmd, cpus: 0.1, mem: 32, portDefinitions: [{ port: 0, protocol: 'tcp', labels: { VIP_0: '/web:80' } }] };
  const created = await requestJson(`${c.marathon}/v2/apps`, { body: app });
  t.equal(created.status, 201, `the app is accepted${created.status === 201 ? '' : `: ${JSON.stringify(created.body)}`}`);
  const tasks = await eventually(
    async () => {
      const ts = ((await requestJson(`${c.marathon}/v2/apps/web/tasks`)).body as { tasks: { id: string; host: string; ports: number[]; state?: string }[] }).tasks;
      return ts.length === 2 && ts.every((x) => x.ports.length) ? ts : undefined;
    },
    60_000,
    250,
    '2 tasks of /web',
  );
  const owner = await eventually(() => {
    try {
      return readFileSync(join(lock, 'owner'), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 100, 'the serving instance');
  const backendOf = (x: { host: string; ports: number[] }) => `${x.host}:${x.ports[0]}`;
  const live = backendOf(tasks.find((x) => x.id === owner)!);
  const dead = backendOf(tasks.find((x) => x.id !== owner)!);

  const vip = await eventually(
    async () => {
      const vs = ((await requestJson(`${c.master}/v1/l4lb/vips`)).body as { vips: { dns_name?: string; ip: string; port: number; backends: unknown[] }[] }).vips;
      const v = vs.find((x) => x.dns_name === NAME && x.backends.length === 2);
      return v ? `${v.ip}:${v.port}` : undefined;
    },
    30_000,
    250,
    `${NAME} with two backends`,
  );
  const [vipIp] = vip.split(':');
  // The live instance answers through the VIP from agent 1 before the counting starts. Those attempts count
  // too: each may land on the dead instance, and enough refusals there can drain it before the counted run.
  type ClientResult = { counts: Record<string, number>; errors: number };
  const runClient = async (n: number, timeoutMs: number) =>
    JSON.parse((await c.inAgent(1, [process.execPath, client, 'tcp', vipIp!, '80', String(n)], timeoutMs)).trim().split('\n').pop()!) as ClientResult;
  let warmRefused = 0;
  await eventually(async () => {
    const r = await runClient(1, 15_000);
    warmRefused += r.errors;
    return r.counts.live === 1;
  }, 30_000, 250, `a connection to ${vip} from agent 1`);

  const result = await runClient(N, 60_000);
  t.ok((result.counts.live ?? 0) > 0 && result.errors + warmRefused > 0, `the client got answers from the live instance and refusals from the dead one (${JSON.stringify(result)}; ${warmRefused} refused before the counted run)`);

  const agent1 = c.agents[0]!.ip;
  const path = `${c.master}/net/v1/vips/${vip}/tcp`;
  const view = await eventually(
    async () => {
      const r = await requestJson(path);
      if (r.status !== 200) return undefined;
      const bs = (r.body as { backends: BackendView[] }).backends;
      const d = bs.find((b) => b.backend === dead);
      const l = bs.find((b) => b.backend === live);
      return d && l && d.last_minute.failures > 0 && l.last_minute.connections > 0 ? { d, l } : undefined;
    },
    30_000,
    500,
    `${path} showing the dead backend's failures`,
  );
  t.ok(view.d.failing_nodes.includes(agent1), `the dead backend ${dead} fails as seen from agent 1 (${agent1}): ${JSON.stringify(view.d.failing_nodes)}`);
  t.equal(view.d.last_minute.success_rate, 0, 'every attempt on the dead backend failed');
  t.ok(view.d.nodes.some((n) => n.node === agent1 && n.last_minute.failures > 0), 'per node: agent 1 saw the failures');
  t.equal(view.l.last_minute.failures, 0, `the live backend ${live} has no failures`);
  t.equal(view.l.last_minute.success_rate, 1, 'and a success rate of 1');
  t.ok(view.l.nodes.some((n) => n.node === agent1 && n.last_minute.connections > 0), 'per node: agent 1 sent it connections');

  // Drain: the dead backend is unhealthy and served with weight 0, on every agent.
  const drained = await eventually(
    async () => {
      const bs = ((await requestJson(path)).body as { backends: BackendView[] }).backends;
      const d = bs.find((b) => b.backend === dead);
      return d?.unhealthy && d.drained && d.weight === 0 ? d : undefined;
    },
    30_000,
    500,
    `${dead} unhealthy and drained`,
  );
  t.match(drained.reason, /failure rate 1\.00 .* is at or above the threshold 0\.5/, 'the reason names the rate and the threshold');
  for (const i of [1, 2]) {
    const weights = await eventually(
      async () => {
        const r = await agentGet(i, '/v1/vips');
        const v = (JSON.parse(r.body) as { vip: string; backend: { ip: string; port: number; weight: number }[] }[]).find((x) => x.vip === vip);
        const w = Object.fromEntries((v?.backend ?? []).map((b) => [`${b.ip}:${b.port}`, b.weight]));
        return w[dead] === 0 ? w : undefined;
      },
      30_000,
      500,
      `agent ${i} serving ${dead} with weight 0`,
    );
    t.equal(weights[live], 1, `agent ${i}: the live backend keeps weight 1, the dead one 0`);
  }

  // The CLI, against the master's own port.
  const cli = async (...args: string[]) => {
    try {
      const r = await pexec(process.execPath, [sextantJs, 'vip', ...args, '--master', c.master.replace('http://', '')], { timeout: 20_000 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: x.code ?? 1, out: x.stdout ?? '', err: x.stderr ?? '' };
    }
  };
  t.match(c.up.output(), /^ {2}\S.* vip ls +VIPs: connections, failures, success rate/m, "sextant up's summary suggests vip ls");
  const ls = await cli('ls');
  t.equal(ls.code, 0, ls.err);
  t.match(ls.out, new RegExp(`${vip.replace(/\./g, '\\.')}/tcp\\s+${NAME.replace(/\./g, '\\.')}\\s+2 \\(1 unhealthy\\)`), 'sextant vip ls: the VIP with one unhealthy backend');
  const show = await cli('show', 'web:80');
  t.equal(show.code, 0, show.err);
  t.match(show.out, new RegExp(`${dead.replace(/\./g, '\\.')}\\s+0\\s+DRAINED`), 'sextant vip show: the dead backend drained');
  const json = JSON.parse((await cli('show', `${vip}/tcp`, '--json')).out) as { backends: BackendView[] };
  t.equal(json.backends.length, 2, '--json: the API answer');
  const missing = await cli('show', 'nosuch');
  t.equal(missing.code, 1, 'an unknown VIP exits 1');
  t.match(missing.err, /no VIP 'nosuch'/);
});
