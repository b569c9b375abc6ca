/**
 * `.mesos` while the master is down (issue #24), through real processes: `sextant up --netns`,
 * a known `.mesos` name resolved through agent 1's dispatcher, then the master killed (SIGKILL,
 * by the PID the cluster printed): the known name is still answered (stale, from the dispatcher)
 * and a name never asked gets SERVFAIL within the dispatcher's timeout instead of no answer.
 */
import t from 'tap';
import { eventually, requireNetns, requireTools, runId } from '../lib/index.js';
import { startNetnsUp } from './netns-up.js';

t.setTimeout(150_000);
requireNetns();
requireTools('ip', 'nsenter', 'dig', 'curl');

/** The dispatcher's timeout (its default): an unknown name must be answered within it. */
const DISPATCHER_TIMEOUT_MS = 5000;

t.test('agent dispatcher: stale .mesos answers and SERVFAIL with the master killed', async (t) => {
  const c = await startNetnsUp(t, 1);
  const agent = c.agents[0]!;
  const dig = async (name: string, timeS = 2) => {
    const t0 = Date.now();
    const out = await c.inAgent(1, ['dig', `@${agent.ip}`, name, 'A', `+time=${timeS}`, '+tries=1', '+noall', '+comments', '+answer'], (timeS + 5) * 1000).catch((e) => String(e.stdout ?? e));
    return { status: out.match(/status: (\w+)/)?.[1], ips: [...out.matchAll(/\sIN\s+A\s+(\S+)/g)].map((m) => m[1]!), ttls: [...out.matchAll(/\s(\d+)\s+IN\s+A\s/g)].map((m) => Number(m[1])), ms: Date.now() - t0 };
  };

  const before = await eventually(async () => {
    const r = await dig('leader.mesos');
    return r.status === 'NOERROR' && r.ips.length ? r : undefined;
  }, 30_000, 250, 'leader.mesos through the agent dispatcher');
  t.ok(before.ips.length > 0, `leader.mesos -> ${before.ips.join(',')} while the master runs`);

  const masterPid = Number(c.up.output().match(/^master: pid (\d+)/m)![1]);
  process.kill(masterPid, 'SIGKILL');
  await eventually(() => {
    try {
      process.kill(masterPid, 0);
      return undefined;
    } catch {
      return true;
    }
  }, 10_000, 50, `master pid ${masterPid} gone`);

  const stale = await dig('leader.mesos', 10);
  t.equal(stale.status, 'NOERROR', 'the known name is still answered');
  t.same(stale.ips, before.ips, 'with the answer the dispatcher had');
  t.ok(stale.ttls.every((x) => x <= 30), `with the stale TTL (${stale.ttls.join(',')})`);

  const unknown = await dig(`never-seen-${runId}.mesos`, 10);
  t.equal(unknown.status, 'SERVFAIL', 'a name never seen: SERVFAIL, not silence');
  t.ok(unknown.ms < DISPATCHER_TIMEOUT_MS + 2000, `within the dispatcher's timeout (${unknown.ms} ms)`);

  const again = await dig('leader.mesos', 3);
  t.same(again.ips, before.ips, 'and the known name again, at once');
  t.ok(again.ms < 2000, `(${again.ms} ms)`);

  const port = c.up.output().match(new RegExp(`http://${agent.ip.replace(/\./g, '\\.')}:(\\d+)`))![1];
  const metrics = await c.inAgent(1, ['curl', '-sS', '-m', '5', `http://${agent.ip}:${port}/metrics`]);
  const served = [...metrics.matchAll(/^sextant_dispatcher_stale_answers_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  t.ok(served >= 2, `stale answers counted on the agent's /metrics (${served})`);
});
