/**
 * Issue 25's fault suite, on `sextant up --masters 3 --netns` (real masters, a real ZooKeeper
 * ensemble, each master and its ZooKeeper server in its own namespace, agents in theirs), with the
 * masters' ZooKeeper session timeout of `sextant up` (UP_ZK_SESSION_TIMEOUT_MS, 2 s), secure as
 * `up` is by default (mutual TLS: every client call presents the operator's certificate).
 *
 * While a churn client (test/lib/churn.ts) writes without pause through the masters and a client
 * in agent 1's namespace resolves `hello.marathon.mesos` through the agent's dispatcher and
 * connects to the example app's VIP in a bounded loop (fault-probe.mjs):
 *  1. the leader is killed with kill -9 twenty times in a row; after each kill a write is
 *     acknowledged by another master, and `sextant up` starts the killed one again (a crash);
 *  2. the leader is cut off from ZooKeeper and the agents by nftables drop rules in its namespace
 *     (only the hub's forwarder still reaches it) while its process lives: writes sent to it after
 *     the session timeout are not acknowledged, another master is elected and acknowledges, no
 *     write the old leader acknowledged was sent after the new leader's first acknowledgement;
 *     healed, the old leader rejoins as a follower.
 * Afterwards the final state equals the churn log replayed (every acknowledged write there, none
 * twice, nothing refused half there), the example tasks run under the same ids and pids, and the
 * data-plane client saw no failed lookup and no failed connection.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestJson as plainRequest } from '../../common/http.js';
import { UP_ZK_SESSION_TIMEOUT_MS } from '../../cli/up-masters.js';
import { acksAfterTakeover, alive, fourLetter, ChurnClient, eventually, readChurnState, requireTools, requireZooKeeperServer, spawnTracked, uniqueName, verifyChurn, type ChurnCheck, type ChurnMaster, type ChurnWrite } from '../lib/index.js';
import { startHaNetnsUp, type HaNetnsCluster } from './ha-netns-up.js';

t.setTimeout(1_800_000);

const KILLS = 20;
const AGENT_TIMEOUT_MS = 15_000;
const PROBE = fileURLToPath(new URL('./fault-probe.mjs', import.meta.url));

interface Task {
  id: string;
  host: string;
  state?: string;
}

const hex = () => randomBytes(3).toString('hex');

/** The leader the status file names (running), with its index. */
async function currentLeader(c: HaNetnsCluster): Promise<{ k: number; pid: number }> {
  return eventually(() => {
    const s = c.status();
    const l = s.masters.map((m, k) => ({ ...m, k })).filter((m) => m.leader && m.state === 'running' && alive(m.pid));
    return l.length === 1 && { k: l[0]!.k, pid: l[0]!.pid };
  }, 90_000, 100, 'the status file to name one running leader');
}

/** The pid each task's agent checkpointed (`<agent dir>/tasks/<id>.json`). */
function taskPids(c: HaNetnsCluster, tasks: Task[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of tasks) {
    const a = c.agents.find((x) => x.ip === task.host);
    const rec = a ? (JSON.parse(readFileSync(join(a.dir, 'tasks', `${task.id}.json`), 'utf8')) as { pid?: number }) : {};
    if (rec.pid) out.set(task.id, rec.pid);
  }
  return out;
}

/** The masters' election and leadership events from their logs (the last 30). */
function masterEvents(c: HaNetnsCluster, since = 0): string {
  const out: string[] = [];
  for (const m of c.masters) {
    let text = '';
    try {
      text = readFileSync(join(c.workDir, 'logs', `master-${m.n}.log`), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) if ((!since || Date.parse(l.match(/"ts":"([^"]+)"/)?.[1] ?? '') >= since) && /master_elected|master_leading|leader_start_failed|leadership_lost|zk_disconnected|zk_connection_silent|zk_session_expired|zk_reopen/.test(l)) out.push(`master-${m.n}: ${l.slice(0, 240)}`);
  }
  return out.sort((a, b) => (a.slice(a.indexOf('"ts"')) < b.slice(b.indexOf('"ts"')) ? -1 : 1)).slice(-30).join('\n');
}

/**
 * On a failed wait: what each ZooKeeper server says of itself (`srvr`, through the forwarder), the
 * last lines of its log and of each master's log, and the cut table's counters, to explain it.
 */
async function zkDiagnostics(c: HaNetnsCluster): Promise<string> {
  const out: string[] = [];
  const zk = c.status().zookeeper ?? [];
  for (const [i, z] of zk.entries()) {
    const port = Number(z.address.split(':').pop());
    const host = c.masters[i] ? `${c.plan.ipBase}.${c.masters[i]!.n}` : z.address.split(':')[0]!;
    const srvr = await fourLetter(host, port, 'srvr').catch((e: Error) => `(srvr failed: ${e.message})`);
    out.push(`zookeeper ${i + 1} (${z.address}, pid ${z.pid}, ${z.state}): ${srvr.replace(/\n/g, ' | ').slice(0, 400)}`);
  }
  const tail = (file: string, n: number) => {
    try {
      return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).map((l) => `  ${l.slice(0, 300)}`);
    } catch {
      return [];
    }
  };
  const zkDir = join(c.workDir, 'zookeeper');
  for (const d of existsSync(zkDir) ? readdirSync(zkDir) : [])
    for (const f of readdirSync(join(zkDir, d)).filter((f) => /\.(log|out)$/.test(f))) out.push(`${d}/${f}:`, ...tail(join(zkDir, d, f), 25));
  for (const m of c.masters) out.push(`master-${m.n}.log:`, ...tail(join(c.workDir, 'logs', `master-${m.n}.log`), 12));
  for (const m of c.masters) {
    try {
      const rules = execFileSync('ip', ['netns', 'exec', m.ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const counters = rules.split('\n').filter((l) => /counter packets [1-9]/.test(l));
      if (counters.length) out.push(`${m.ns} counters:`, ...counters.map((l) => `  ${l.trim()}`));
    } catch {
      /* the namespace is gone */
    }
  }
  return out.join('\n');
}

/** Lines of the masters' and agents' logs that name one of `needles` (the last 40). */
function logLines(c: HaNetnsCluster, needles: string[]): string[] {
  const out: string[] = [];
  for (const f of [...c.masters.map((m) => `master-${m.n}.log`), ...c.agents.map((_, i) => `agent-${i + 1}.log`)]) {
    let text = '';
    try {
      text = readFileSync(join(c.workDir, 'logs', f), 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n')) if (needles.some((n) => l.includes(n))) out.push(`${f}: ${l.slice(0, 300)}`);
  }
  return out.slice(-40);
}

/**
 * On failed lookups or connections: agent 1's log lines from 5 s before the first failure to 5 s
 * after the last (its dispatcher's events: upstream failures, resolver changes, restarts), and its
 * dispatcher's counters from the agent's /metrics (forwarder and upstream failures, stale answers,
 * refusals), read before teardown removes the work dir.
 */
async function dataPlaneDiagnostics(c: HaNetnsCluster, failures: { at?: string }[], metrics: () => Promise<string>): Promise<string> {
  const times = failures.map((f) => Date.parse(f.at ?? '')).filter((x) => Number.isFinite(x));
  const from = Math.min(...times) - 5000;
  const to = Math.max(...times) + 5000;
  const out: string[] = [];
  for (const [i, f] of [`agent-1.log`, ...c.masters.map((m) => `master-${m.n}.log`)].entries()) {
    let text = '';
    try {
      text = readFileSync(join(c.workDir, 'logs', f), 'utf8');
    } catch {
      continue;
    }
    const near = text.split('\n').filter((l) => {
      const ts = Date.parse(/"ts":"([^"]+)"/.exec(l)?.[1] ?? '');
      return ts >= from && ts <= to && (i === 0 || /master_elected|leadership_lost|records_generated|dns_handler_failed|state_rejected|mesos_dns/.test(l));
    });
    out.push(`${f} (${near.length} lines from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}):`, ...near.slice(-120).map((l) => `  ${l.slice(0, 400)}`));
  }
  const text = await metrics().catch((e: Error) => `(agent /metrics failed: ${e.message})`);
  const wanted = /^sextant_dispatcher_(forwarder_failures|worker_failures|stale_answers|stale_entries|refused|requests_total|workers|dropped_replies|udp_dropped|inflight|malformed)/;
  out.push("agent 1's dispatcher metrics:", ...text.split('\n').filter((l) => wanted.test(l)).map((l) => `  ${l}`));
  return out.join('\n');
}

const describe = (w: ChurnWrite) => `#${w.seq} ${w.kind} ${w.target} ${w.outcome}${w.status ? ` ${w.status}` : ''} to ${w.to}${w.by ? ` by ${w.by}` : ''}${w.error ? ` (${w.error.slice(0, 80)})` : ''}`;

t.test('HA fault suite: 20 leader kills and a leader partition under churn; DNS and VIP never fail', async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (network namespaces, nftables)');
  requireZooKeeperServer();
  requireTools('ip', 'nft');
  // The agents' timeout of `sextant up` (15 s), not the 3 s of the other up tests: a failover takes ~3 s
  // (2 s session + election + takeover) before agents can re-register, and a master that marks
  // them gone sooner replaces their tasks (TASK_LOST), which is what this suite must not see.
  // Secure, as `up` is by default: the churn client and this test's own calls present the status file's operator certificate.
  const c = await startHaNetnsUp(t, { masters: 3, agents: 2, kind: 'fault', agentTimeoutMs: AGENT_TIMEOUT_MS });
  if (!c.tls) throw new Error('the status file names no CA and operator certificate');
  const tls = c.tls;
  const requestJson: typeof plainRequest = (url, opts = {}) => plainRequest(url, { ...opts, tls });
  const masters: ChurnMaster[] = c.masters.map((m) => ({ ip: m.ip, mesos: m.mesos, marathon: m.marathon }));
  const lead0 = await currentLeader(c);
  const tasksOf = async (k: number) => {
    const r = await requestJson(`${masters[k]!.marathon}/v2/apps/hello/tasks`, { timeoutMs: 5000 });
    if (r.status !== 200) throw new Error(`/v2/apps/hello/tasks answered ${r.status}`);
    return (r.body as { tasks: Task[] }).tasks;
  };
  const tasks0 = await tasksOf(lead0.k);
  t.equal(tasks0.length, 2, 'the example app runs 2 tasks');
  const pids0 = taskPids(c, tasks0);
  t.equal(pids0.size, 2, 'both tasks have a checkpointed pid');

  // --- the data-plane client in agent 1's namespace
  const a1 = c.agents[0]!;
  const probe = spawnTracked(t, 'ip', ['netns', 'exec', a1.ns, process.execPath, PROBE, a1.ip, 'hello.marathon.mesos', 'hello.marathon.l4lb.thisdcos.directory', '1500', '20000'], { graceMs: 10_000 });
  await probe.waitFor(/"ready"|"summary"/, 60_000);
  t.match(probe.output(), /"ready"/, `the probe resolved the VIP: ${probe.output().trim().split('\n')[0]}`);

  // --- churn
  const churn = new ChurnClient({ masters, prefix: `c${hex()}`, tls });
  churn.start();
  t.teardown(() => churn.stop());
  // On a failed wait: the last writes and the masters' leadership events, to explain it.
  const explain = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: Error) => {
      t.comment(`last writes:\n${churn.log.slice(-15).map(describe).join('\n')}`);
      t.comment(`masters:\n${masterEvents(c)}`);
      return zkDiagnostics(c).then((d) => {
        t.comment(d);
        throw e;
      });
    });
  await churn.waitFor((w) => w.outcome === 'ack', 60_000, 'a first acknowledged write');

  // --- 20 x kill -9 the leader
  const failovers: number[] = [];
  for (let i = 1; i <= KILLS; i++) {
    const lead = await currentLeader(c);
    const ip = c.masters[lead.k]!.ip;
    const killedAt = Date.now();
    process.kill(lead.pid, 'SIGKILL');
    const ack = await explain(churn.waitFor((w) => w.outcome === 'ack' && w.by !== ip && w.sentAt > killedAt, 120_000, `a write acknowledged by a new leader after kill ${i}`));
    failovers.push(ack.doneAt - killedAt);
    // `up` starts the killed master again (a crash): wait for it before the next kill, so two of three stay.
    await eventually(() => {
      const m = c.status().masters[lead.k]!;
      return m.state === 'running' && m.pid !== lead.pid && alive(m.pid);
    }, 60_000, 100, `master ${lead.k + 1} to be started again after kill ${i}`);
    t.pass(`kill ${i}: master ${lead.k + 1} (pid ${lead.pid}) killed; write #${ack.seq} acknowledged by ${ack.by} ${ack.doneAt - killedAt} ms later`);
  }
  const sorted = [...failovers].sort((a, b) => a - b);
  t.comment(`kill -9 to the first write acknowledged by the new leader, ${KILLS} kills: p50 ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms (session timeout ${UP_ZK_SESSION_TIMEOUT_MS} ms)`);

  // --- the leader cut off from ZooKeeper and the agents, its process alive
  const lead = await currentLeader(c);
  const old = c.masters[lead.k]!;
  const pinned = new ChurnClient({ masters, prefix: `p${hex()}`, pinned: masters[lead.k]!, kinds: ['app'], timeoutMs: 5000, tls });
  pinned.start();
  t.teardown(() => pinned.stop());
  await pinned.waitFor((w) => w.outcome === 'ack' && w.by === old.ip, 60_000, `a write acknowledged by the leader ${old.ip} before the cut`);
  const table = uniqueName('cut').replace(/[^A-Za-z0-9_]/g, '_');
  const nft = (script: string) => execFileSync('ip', ['netns', 'exec', old.ns, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
  const cutAt = Date.now();
  nft(`table inet ${table} {
  chain in { type filter hook input priority -10; policy accept; iifname "lo" accept; ip saddr ${c.hubIp} accept; counter drop; }
  chain out { type filter hook output priority -10; policy accept; oifname "lo" accept; ip daddr ${c.hubIp} accept; counter drop; }
}
`);
  let healed = false;
  const heal = () => {
    if (healed) return;
    healed = true;
    try {
      nft(`delete table inet ${table}\n`);
    } catch {
      /* the namespace is gone */
    }
  };
  t.teardown(heal);
  t.pass(`master ${lead.k + 1} (${old.ip}, pid ${lead.pid}) cut off in ${old.ns}: only ${c.hubIp} (the forwarder) reaches it`);
  const takeover = await explain(churn.waitFor((w) => w.outcome === 'ack' && w.by !== old.ip && w.sentAt > cutAt, 120_000, 'a write acknowledged by another master after the cut'));
  t.pass(`write #${takeover.seq} acknowledged by ${takeover.by} ${takeover.doneAt - cutAt} ms after the cut`);
  t.comment(`masters since the cut:\n${masterEvents(c, cutAt)}`);
  const refused = await pinned.waitFor((w) => w.outcome !== 'ack' && w.sentAt > cutAt + UP_ZK_SESSION_TIMEOUT_MS, 120_000, 'the cut-off leader to stop acknowledging');
  t.pass(`the cut-off master answers ${describe(refused)}`);
  await pinned.stop();
  const late = pinned.log.filter((w) => w.outcome === 'ack' && w.by === old.ip && w.sentAt > cutAt + UP_ZK_SESSION_TIMEOUT_MS);
  t.same(late.map(describe), [], `the cut-off leader acknowledged no write sent more than the session timeout (${UP_ZK_SESSION_TIMEOUT_MS} ms) after the cut`);
  const both = acksAfterTakeover([...churn.log, ...pinned.log], old.ip, takeover.by!, cutAt);
  t.same(both, [], 'no write acknowledged by the old leader after the new one acknowledged one');
  const s1 = c.status();
  t.notOk(s1.masters[lead.k]!.leader, 'the status file no longer names the cut-off master as the leader');

  heal();
  await eventually(async () => {
    const m = c.status().masters[lead.k]!;
    const r = await requestJson(`${old.marathon}/v2/leader`, { timeoutMs: 3000 }).catch(() => undefined);
    const named = (r?.body as { leader?: string } | undefined)?.leader?.split(':')[0];
    return m.state === 'running' && !m.leader && r?.status === 200 && named !== undefined && named !== old.ip && named;
  }, 120_000, 200, 'the healed master to answer as a follower naming the new leader');
  t.pass(`healed: master ${lead.k + 1} rejoined as a follower`);

  // --- stop the churn; the final state is the log replayed
  await churn.stop();
  const writes = [...churn.log, ...pinned.log];
  const count = (o: string) => writes.filter((w) => w.outcome === o).length;
  t.comment(`churn: ${writes.length} writes, ${count('ack')} acknowledged, ${count('refused')} refused, ${count('unknown')} unknown`);
  const leadNow = await currentLeader(c);
  const at = masters[leadNow.k]!;
  // Deployments settle first (tasks of scaled or deleted apps come and go); the check below does
  // not depend on them, so one still running is reported, not failed on.
  let pending: unknown[] = [];
  await eventually(async () => {
    const r = await requestJson(`${at.marathon}/v2/deployments`, { timeoutMs: 5000 }).catch(() => undefined);
    pending = r?.status === 200 && Array.isArray(r.body) ? r.body : pending;
    return r?.status === 200 && pending.length === 0;
  }, 60_000, 250, 'every deployment to finish').catch(() => t.comment(`deployments still running after 60 s: ${JSON.stringify(pending).slice(0, 1500)}`));
  let check: ChurnCheck = { problems: ['not read'], certain: 0, uncertain: 0 };
  await eventually(async () => {
    const [a, b] = await Promise.all([readChurnState(at, churn.prefix, tls), readChurnState(at, pinned.prefix, tls)]);
    check = verifyChurn(churn.log, a);
    const pc = verifyChurn(pinned.log, b);
    check = { problems: [...check.problems, ...pc.problems], certain: check.certain + pc.certain, uncertain: check.uncertain + pc.uncertain };
    return check.problems.length === 0;
  }, 60_000, 500, 'the final state to equal the churn log replayed').catch(() => undefined);
  t.same(check.problems, [], `the final state is the log replayed (${check.certain} entities checked in full, ${check.uncertain} with an unknown write checked for duplicates)`);
  t.ok(count('ack') > KILLS, 'the churn kept writing through the faults');

  // --- the tasks that ran before still run, same ids and pids
  const tasks1 = await eventually(async () => {
    const ts = await tasksOf(leadNow.k).catch(() => undefined);
    return ts && ts.length === 2 && ts.every((x) => x.state === 'TASK_RUNNING') && ts;
  }, 60_000, 200, 'the example tasks running at the leader');
  const sameTasks = t.same(tasks1.map((x) => x.id).sort(), tasks0.map((x) => x.id).sort(), 'the same task ids: nothing killed, lost or duplicated');
  if (!sameTasks) t.comment(`what the masters and agents logged about the first tasks:\n${logLines(c, tasks0.map((x) => x.id)).join('\n')}`);
  const pids1 = taskPids(c, tasks1);
  for (const [id, pid] of pids0) t.ok(pids1.get(id) === pid && alive(pid), `task ${id}: the same process (pid ${pid}) still runs`);

  // --- the data plane never blinked
  probe.kill('SIGTERM');
  await probe.exited;
  // SEXTANT_FAULT_LOGS=<dir>: keep the run's logs there (the work dir goes at teardown), to study a green run too.
  if (process.env.SEXTANT_FAULT_LOGS) cpSync(join(c.workDir, 'logs'), process.env.SEXTANT_FAULT_LOGS, { recursive: true });
  const lines = probe.output().trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { failure?: string; summary?: Record<string, number> });
  const summary = lines.find((l) => l.summary)?.summary;
  t.ok(summary, 'the probe printed its summary');
  t.ok((summary?.lookups ?? 0) > 0 && (summary?.connects ?? 0) > 0, `the probe ran throughout: ${JSON.stringify(summary)}`);
  const failed = lines.filter((l) => l.failure) as { failure: string; at?: string }[];
  // The agent's API answers inside its namespace (as dns-stale-netns reads it), with the operator's certificate.
  const st = c.status();
  const metrics = async () => {
    const api = st.agents[0]?.api;
    if (!api || !st.ca || !st.cli_cert || !st.cli_key) throw new Error("the status file names no API or certificate for agent 1");
    return execFileSync('ip', ['netns', 'exec', a1.ns, 'curl', '-sS', '-m', '5', '--cacert', st.ca, '--cert', st.cli_cert, '--key', st.cli_key, `${api}/metrics`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  };
  if (failed.length) t.comment(`data-plane failures: what agent 1 and the masters logged around them, and agent 1's dispatcher counters:\n${await dataPlaneDiagnostics(c, failed, metrics)}`);
  else {
    // How the lookups got through the faults: answers served stale and why, upstream failures.
    const text = await metrics().catch((e: Error) => `(agent /metrics failed: ${e.message})`);
    t.comment(`agent 1's dispatcher: ${text.split('\n').filter((l) => /^sextant_dispatcher_(stale_answers_total|forwarder_failures_total)\{/.test(l)).join('; ') || '(no stale answers, no forwarder failures)'}`);
  }
  t.same(failed.slice(0, 20), [], 'no failed lookup of hello.marathon.mesos and no failed connection to its VIP');
});
