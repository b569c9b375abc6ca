/**
 * Issue 25: `sextant up --masters 3` on a real ZooKeeper ensemble (Debian's zookeeper), real
 * masters and agents, secure by default (#30: mutual TLS between the components, an entry point
 * on every master, a superuser token). The status file lists 3 masters (exactly one leader, each
 * with its entry point), the ZooKeeper servers, the zk URL, the CA, the operator's certificate and
 * the token; the CLI with the token deploys through the leader's entry point and a follower's.
 * kill -9 the leader: another is elected and the status file says which (and names its entry
 * point), the agents re-register with it over TLS and watch its control plane, the example app's
 * tasks run on under the same ids, the new leader acknowledges an app write, the CLI with the same
 * token deploys through another master's entry point, and no agent's control-plane version goes
 * backwards. Then ZooKeeper: a follower server killed is noticed by no client; a second one
 * killed (no quorum): writes get 503 naming the cause, reads and DNS answer; both back: writes
 * resume and nothing is lost. The test's own calls to the component ports present the status
 * file's operator certificate.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestJson as plainRequest, type ClientTls } from '../../common/http.js';
import { ZkEnsemble } from '../../master/index.js';
import { alive, eventually, fourLetter, requireTools, requireZooKeeperServer } from '../lib/index.js';
import { cliWithToken, spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(600_000);

interface Status {
  state: string;
  masters: { id: string; mesos: string; marathon: string; entry?: string; pid: number; leader: boolean; state: string }[];
  agents: { id: string; ip: string; api: string; pid: number; state: string }[];
  zookeeper?: { address: string; pid: number; state: string }[];
  zk?: string;
  token?: string;
  entry?: string;
  ca?: string;
  cli_cert?: string;
  cli_key?: string;
}
interface AppTask {
  id: string;
  state?: string;
  host: string;
}
interface ControlState {
  connected: boolean;
  master?: string;
  version: number;
  history: string;
}

/** The masters' leadership and ZooKeeper events, to explain a failure. */
function masterEvents(logs: string): string {
  const out: string[] = [];
  for (const n of [1, 2, 3]) {
    let text = '';
    try {
      text = readFileSync(join(logs, `master-${n}.log`), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) if (/leader|zk_|election|lease|start_failed/.test(l)) out.push(`master-${n}: ${l.slice(0, 300)}`);
  }
  return out.join('\n');
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Status;
const leaders = (s: Status) => s.masters.filter((m) => m.leader);
const hostOf = (url: string) => new URL(url).hostname;
const sh = promisify(execFile);

/** The operator's certificate from the status file: every https call of this test presents it. */
let operator: ClientTls | undefined;
const requestJson: typeof plainRequest = (url, opts = {}) => plainRequest(url, { ...opts, ...(operator && url.startsWith('https:') ? { tls: operator } : {}) });


async function tasksOf(marathon: string): Promise<AppTask[]> {
  const r = await requestJson(`${marathon}/v2/apps/hello/tasks`, { timeoutMs: 5000 });
  if (r.status !== 200) throw new Error(`${marathon}/v2/apps/hello/tasks answered ${r.status}`);
  return (r.body as { tasks: AppTask[] }).tasks;
}

/** PUT an app (0 instances, a label naming the round): the answer of the master that acknowledges it. */
function putProbe(marathon: string, round: number) {
  return requestJson(`${marathon}/v2/apps/ha-probe`, { method: 'PUT', body: { id: '/ha-probe', cmd: 'sleep 1000', cpus: 0.01, mem: 8, instances: 0, labels: { round: String(round) } }, timeoutMs: 10_000 }).catch((e: Error) => ({ status: 0, body: e.message }));
}

t.test('sextant up --masters 3: leader kill -9, ZooKeeper follower loss, quorum loss and return', async (t) => {
  requireZooKeeperServer();
  requireTools('dig');
  const plan = await upPlan();
  const dir = upWorkDir(t, 'upha');
  const file = join(dir, 'status.json');
  const up = spawnUp(t, upArgs(plan, join(dir, 'work'), 2, ['--masters', '3', '--status-file', file, '--agent-timeout-ms', '15000'], { secure: true }), join(dir, 'work'));
  await up.waitFor(/sextant up: ready/, 300_000);

  // --- the status file
  const s0 = read(file);
  t.equal(s0.ca, join(dir, 'work', 'pki', 'ca.crt'), 'the cluster CA');
  t.ok(s0.cli_cert && s0.cli_key, "the operator's certificate and key");
  operator = { ca: readFileSync(s0.ca!), cert: readFileSync(s0.cli_cert!), key: readFileSync(s0.cli_key!) };
  t.ok(s0.masters.every((m) => m.mesos.startsWith('https://') && m.marathon.startsWith('https://')), 'every master serves https');
  t.same(s0.masters.map((m) => m.entry), [1, 2, 3].map((i) => `https://${plan.ipBase}.${i}:${plan.adminPort}`), 'an entry point on every master');
  t.ok(s0.agents.every((a) => a.api.startsWith('https://')), 'every agent serves https');
  t.match(await plainRequest(`${s0.masters[1]!.mesos}/master/state`, { tls: { ca: operator.ca } }).catch((e: Error) => ({ refused: e.message })), { refused: String }, "a follower's Mesos port refuses a caller without a certificate");
  t.equal(s0.masters.length, 3, 'three masters');
  t.equal(leaders(s0).length, 1, 'exactly one leader');
  t.same(s0.masters.map((m) => hostOf(m.mesos)), [1, 2, 3].map((i) => `${plan.ipBase}.${i}`), 'each master on its own address');
  for (const m of s0.masters) t.ok(alive(m.pid), `master ${m.mesos}: pid ${m.pid} alive`);
  t.equal(s0.zookeeper?.length, 3, 'three ZooKeeper servers');
  for (const z of s0.zookeeper ?? []) t.ok(alive(z.pid) && /Mode: (leader|follower)/.test(await fourLetter(z.address.split(':')[0]!, Number(z.address.split(':')[1]), 'srvr')), `ZooKeeper ${z.address} (pid ${z.pid}) serves in a quorum`);
  t.equal(s0.zk, `zk://${(s0.zookeeper ?? []).map((z) => z.address).join(',')}/sextant`, 'the zk URL names every server');
  const lead0 = leaders(s0)[0]!;
  t.match((await requestJson(`${lead0.mesos}/master/state`)).body, { id: lead0.id }, 'the leader answers /master/state with its id');
  t.equal(s0.agents.length, 2);
  t.type(s0.token, 'string', 'the status file holds a superuser token (the admin made in the shared store)');
  const whoami = async (mesos: string) => (await requestJson(`${mesos}/acs/api/v1/auth/whoami`, { headers: { authorization: `token=${s0.token}` }, timeoutMs: 5000 })).body;
  t.match(await whoami(lead0.mesos), { uid: 'admin' }, 'the leader accepts it');
  t.equal(s0.entry, lead0.entry, "the status file's entry point is the leader's");
  const cliDir = join(dir, 'cli');
  const appFile = (id: string) => {
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ id: `/${id}`, cmd: 'sleep 1000', cpus: 0.01, mem: 8, instances: 0 }));
    return join(dir, `${id}.json`);
  };
  const follower0 = s0.masters.find((m) => !m.leader)!;
  for (const [what, entry, id] of [['the leader', lead0.entry!, 'via-leader'], ['a follower', follower0.entry!, 'via-follower']] as const) {
    const r = await cliWithToken(cliDir, entry, s0.ca!, s0.token!, ['app', 'add', appFile(id), '--no-wait']);
    t.equal(r.code, 0, `sextant app add with the token through ${what}'s entry point (${entry}): ${r.out.trim().split('\n')[0]}`);
  }
  const anon = await cliWithToken(cliDir, follower0.entry!, s0.ca!, '', ['app', 'ls']);
  t.not(anon.code, 0, `without a token a follower's entry point refuses: ${anon.out.trim().split('\n').pop()}`);
  const appIds = (await requestJson(`${lead0.marathon}/v2/apps`)).body as { apps: { id: string }[] };
  t.ok(['/via-leader', '/via-follower'].every((id) => appIds.apps.some((a) => a.id === id)), 'both apps reached Marathon');

  const tasks0 = await tasksOf(lead0.marathon);
  t.equal(tasks0.length, 2, 'the example app runs 2 tasks');
  const control = async (a: { api: string }) => (await requestJson(`${a.api}/v1/control/state`, { timeoutMs: 3000 })).body as ControlState;
  const before = await Promise.all(s0.agents.map(control));
  for (const [i, c] of before.entries()) t.equal(c.master, `${hostOf(lead0.mesos)}:5060`, `agent ${i + 1} watches the leader's control plane`);

  // Every agent's control version, sampled through the failover: it must never go down.
  const samples: number[][] = s0.agents.map(() => []);
  let sampling = true;
  t.teardown(() => void (sampling = false));
  const sampler = (async () => {
    for (let n = 0; sampling && n < 5000; n++) {
      await Promise.all(s0.agents.map(async (a, i) => {
        const c = await control(a).catch(() => undefined);
        if (c && c.history === before[i]!.history) samples[i]!.push(c.version);
      }));
      await new Promise((r) => setTimeout(r, 100)); // a sampling period, not a wait for an event
    }
  })();

  // --- kill -9 the leader
  process.kill(lead0.pid, 'SIGKILL');
  const s1 = await eventually(() => {
    const s = read(file);
    const l = leaders(s);
    return l.length === 1 && l[0]!.pid !== lead0.pid && s;
  }, 60_000, 100, 'the status file to name a new leader');
  const lead1 = leaders(s1)[0]!;
  t.not(lead1.mesos, lead0.mesos, `a new leader: ${lead1.mesos}`);
  t.equal(leaders(s1).length, 1, 'exactly one leader in the status file');
  const leaderHostPort = `${hostOf(lead1.mesos)}:${new URL(lead1.mesos).port}`;
  for (const [i, a] of s1.agents.entries())
    await eventually(async () => {
      const st = (await requestJson(`${a.api}/state`, { timeoutMs: 3000 }).catch(() => undefined))?.body as { flags?: { master?: string } } | undefined;
      const h = (await requestJson(`${a.api}/health`, { timeoutMs: 3000 }).catch(() => undefined))?.body as { registered?: boolean } | undefined;
      return st?.flags?.master === leaderHostPort && h?.registered === true;
    }, 60_000, 200, `agent ${i + 1} to register with the new leader`);
  const slaves = await eventually(async () => {
    const r = await requestJson(`${lead1.mesos}/master/state`, { timeoutMs: 5000 }).catch(() => undefined);
    const list = (r?.body as { slaves?: { id: string; active: boolean; reregistered_time?: number }[] } | undefined)?.slaves ?? [];
    return list.filter((x) => x.active).length === 2 && list;
  }, 60_000, 200, 'both agents active at the new leader');
  t.same(slaves.map((x) => x.id).sort(), s0.agents.map((a) => a.id).sort(), 'the same agents, re-registered with the new leader');
  t.ok(slaves.every((x) => typeof x.reregistered_time === 'number'), 'marked re-registered');

  const tasks1 = await eventually(async () => {
    const ts = await tasksOf(lead1.marathon).catch(() => undefined);
    return ts && ts.length === 2 && ts.every((x) => x.state === 'TASK_RUNNING') && ts;
  }, 60_000, 200, 'the example tasks running at the new leader');
  t.same(tasks1.map((x) => x.id).sort(), tasks0.map((x) => x.id).sort(), 'the same task ids: nothing killed or duplicated');
  for (const task of tasks1) {
    const port = (task as unknown as { ports: number[] }).ports[0];
    const r = await requestJson(`http://${task.host}:${port}/`, { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, body: e.message }));
    t.match(r.body, task.id, `task ${task.id} still answers at ${task.host}:${port}`);
  }
  const w1 = await putProbe(lead1.marathon, 1);
  t.ok(w1.status === 200 || w1.status === 201, `an app write acknowledged by the new leader (${w1.status})`);
  t.equal((await requestJson(`${lead1.marathon}/v2/apps/ha-probe`)).status, 200, 'and read back');
  t.match(await whoami(lead1.mesos), { uid: 'admin' }, "the new leader accepts the old leader's token (one signing key in the store)");
  t.equal(s1.entry, lead1.entry, "the status file's entry point follows the leader");
  const other = s1.masters.find((m) => m.mesos !== lead0.mesos && m.mesos !== lead1.mesos)!;
  for (const m of [lead1, other]) {
    const r = await cliWithToken(cliDir, m.entry!, s1.ca!, s0.token!, ['app', 'add', appFile(`after-${new URL(m.mesos).hostname.split('.').pop()}`), '--no-wait']);
    t.equal(r.code, 0, `after the failover the same token deploys through ${m.entry}${m === lead1 ? ' (the new leader)' : ' (a follower)'}: ${r.out.trim().split('\n')[0]}`);
  }

  for (const [i, a] of s1.agents.entries())
    await eventually(async () => {
      const c = await control(a).catch(() => undefined);
      return c?.connected && c.master === `${hostOf(lead1.mesos)}:5060` && c.history === before[i]!.history;
    }, 60_000, 200, `agent ${i + 1}'s control client on the new leader, same history`);
  sampling = false;
  await sampler;
  for (const [i, vs] of samples.entries()) {
    const down = vs.findIndex((v, k) => k > 0 && v < vs[k - 1]!);
    t.equal(down, -1, `agent ${i + 1}: control version never went backwards (${vs[0]} .. ${vs[vs.length - 1]}, ${vs.length} samples)`);
    t.ok(vs[vs.length - 1]! >= before[i]!.version, `agent ${i + 1}: version ${vs[vs.length - 1]} >= ${before[i]!.version} before the failover`);
  }

  // --- ZooKeeper: a follower killed, no client notices
  const zks = s1.zookeeper ?? [];
  const modes = await Promise.all(zks.map(async (z) => (await fourLetter(z.address.split(':')[0]!, Number(z.address.split(':')[1]), 'srvr')).match(/Mode: (\w+)/)?.[1]));
  const followers = zks.map((z, i) => ({ ...z, id: i + 1, mode: modes[i] })).filter((z) => z.mode === 'follower');
  t.equal(followers.length, 2, 'two ZooKeeper followers');
  process.kill(followers[0]!.pid, 'SIGKILL');
  await eventually(() => !alive(followers[0]!.pid), 10_000, 50, 'the ZooKeeper follower to exit');
  const w2 = await putProbe(lead1.marathon, 2);
  t.ok(w2.status === 200 || w2.status === 201, `a write right after a ZooKeeper follower died is acknowledged (${w2.status})`);
  const sameLeader = t.same(leaders(read(file)).map((m) => m.pid), [lead1.pid], 'the same leader');
  if (!sameLeader) t.comment(masterEvents(join(dir, 'work', 'logs')));
  t.ok(read(file).masters.filter((m) => m.mesos !== lead0.mesos).every((m) => m.state === 'running' && alive(m.pid)), 'no master restarted');

  // --- a second one: no quorum
  process.kill(followers[1]!.pid, 'SIGKILL');
  const refused = await eventually(async () => {
    const r = await putProbe(lead1.marathon, 3);
    return r.status === 503 && r;
  }, 60_000, 250, 'writes to be refused with 503');
  t.match(JSON.stringify(refused.body), /ZooKeeper quorum unavailable/, `the 503 names the cause: ${JSON.stringify(refused.body).slice(0, 200)}`);
  t.equal((await requestJson(`${lead1.marathon}/v2/apps`, { timeoutMs: 5000 })).status, 200, 'reads are served');
  t.equal((await requestJson(`${lead1.mesos}/master/state`, { timeoutMs: 5000 })).status, 200, '/master/state is served');
  const dig = await sh('dig', [`@${hostOf(lead1.mesos)}`, '-p', String(plan.mesosDnsPort), '+short', '+time=2', '+tries=2', 'hello.marathon.mesos', 'A']);
  t.same(dig.stdout.trim().split('\n').sort(), [...new Set(tasks1.map((x) => x.host))].sort(), 'Mesos-DNS answers hello.marathon.mesos');

  // --- both back (same data dirs and configuration): writes resume, nothing lost
  const ens = new ZkEnsemble({ dir: join(dir, 'work', 'zookeeper'), tickMs: 200, servers: zks.map((z) => ({ host: z.address.split(':')[0]!, ports: { client: Number(z.address.split(':')[1]), peer: Number(z.address.split(':')[1]) + 707, election: Number(z.address.split(':')[1]) + 1707 } })) });
  t.teardown(() => ens.stop(3000));
  await ens.restart(followers[0]!.id, 120_000);
  await ens.restart(followers[1]!.id, 120_000);
  const w4 = await eventually(async () => {
    const r = await putProbe(lead1.marathon, 4);
    return (r.status === 200 || r.status === 201) && r;
  }, 60_000, 250, 'writes to resume once the quorum is back');
  t.ok(w4, 'writes resume without restarting any master');
  const probe = (await requestJson(`${lead1.marathon}/v2/apps/ha-probe`)).body as { app: { labels: Record<string, string> } };
  t.equal(probe.app.labels.round, '4', 'the last acknowledged write is there');
  t.same((await tasksOf(lead1.marathon)).map((x) => x.id).sort(), tasks0.map((x) => x.id).sort(), 'the example tasks are still the same');
  t.ok(alive(lead1.pid), 'the leader was not restarted');
});
