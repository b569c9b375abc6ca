/**
 * Issues 25 + 30: `sextant up --masters 3 --netns` is secure by default. Each master and its
 * ZooKeeper server run in their own namespace, agents in theirs, mutual TLS between all of them,
 * an HTTPS entry point on every master. From the status file alone: the CLI with its token deploys
 * through the leader's entry point; kill -9 the leader; another is elected (the status file says
 * which and names its entry point); the CLI with the same token deploys through another master's
 * entry point; the agents re-register with the new leader over TLS; the app's name resolves in an
 * agent's namespace. From the attacker's side (another namespace on the same bridge, another
 * "host"): a follower's and the leader's component ports, and an agent's, refuse an anonymous
 * caller and a caller with a certificate of another CA, and serve one of the cluster CA; an
 * anonymous ZooKeeper client gets NoAuth on the store (reading, listing, writing, creating) and on
 * the election (no fake leader, no removing the real one), still reads the leader under /mesos,
 * and the 4lw that list sessions are off; the credential is in a 0600 file, not in the status file
 * nor on any master's command line.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requestJson } from '../../common/http.js';
import { alive, createNetns, eventually, makeTestPki, requireTools, requireZooKeeperServer, type Netns } from '../lib/index.js';
import { startHaNetnsUp, type HaNetnsCluster, type HaStatus } from './ha-netns-up.js';
import { cliWithToken } from './up-lib.js';
import { zkAnonProbe } from './zk-anon-probe.js';

t.setTimeout(600_000);
const sh = promisify(execFile);


/** curl inside a namespace: the HTTP status and body, or 0 and curl's error when no HTTP answer came (refused at the TLS layer). */
async function curl(ns: Netns, url: string, tls?: { ca: string; cert?: string; key?: string }): Promise<{ code: number; body?: string; error?: string }> {
  const args = ['-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}'];
  if (tls) args.push('--cacert', tls.ca, ...(tls.cert ? ['--cert', tls.cert, '--key', tls.key!] : []));
  try {
    const out = await ns.exec('curl', [...args, url]);
    const i = out.lastIndexOf('\n');
    return { code: Number(out.slice(i + 1)), body: out.slice(0, i) };
  } catch (e) {
    return { code: 0, error: (e as Error).message.split('\n').filter(Boolean).slice(-1)[0] ?? '' };
  }
}

/** An attacker namespace joined to the cluster's bridge (in the hub namespace), at .230 of its /24. */
async function attacker(t: { teardown(fn: () => unknown): void }, c: HaNetnsCluster): Promise<Netns> {
  const evil = await createNetns(t, 'hax');
  const hub = `${c.prefix}hub`;
  const link = `hx${Math.floor(Math.random() * 1e6)}`.slice(0, 12);
  await sh('ip', ['netns', 'exec', hub, 'ip', 'link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', evil.name]);
  await sh('ip', ['netns', 'exec', hub, 'ip', 'link', 'set', link, 'master', 'br0']);
  await sh('ip', ['netns', 'exec', hub, 'ip', 'link', 'set', link, 'up']);
  await evil.ip('addr', 'add', `${c.hubIp.replace(/\.1$/, '.230')}/24`, 'dev', 'eth0');
  await evil.ip('link', 'set', 'eth0', 'up');
  return evil;
}

const leaderOf = (s: HaStatus) => s.masters.filter((m) => m.leader && m.state === 'running');

t.test('sextant up --masters 3 --netns, secure: CLI through the entry points across a leader kill; attackers refused', async (t) => {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (network namespaces)');
  requireZooKeeperServer();
  requireTools('ip', 'dig', 'curl', 'openssl');
  const c = await startHaNetnsUp(t, { masters: 3, agents: 2, kind: 'uphasec' });
  const s0 = c.status();
  t.ok(c.tls, 'the status file names the CA and the operator certificate');
  t.type(s0.token, 'string', 'and a superuser token');
  t.same(s0.masters.map((m) => m.entry), c.masters.map((m) => m.entry), 'every master has an entry point, reached from the host');
  const lead0 = leaderOf(s0)[0]!;
  t.equal(s0.entry, lead0.entry, "the top-level entry point is the leader's");
  const op = { tls: c.tls! };

  // --- the CLI with the token, through the leader's entry point
  const dir = join(c.workDir, '..');
  const appFile = (id: string) => {
    const f = join(dir, `${id}.json`);
    writeFileSync(f, JSON.stringify({ id: `/${id}`, cmd: 'sleep 1000', cpus: 0.01, mem: 8, instances: 1 }));
    return f;
  };
  const before = await cliWithToken(dir, s0.entry!, s0.ca!, s0.token!, ['app', 'add', appFile('sec-before')]);
  t.equal(before.code, 0, `sextant app add through ${s0.entry} with the token: ${before.out.trim().split('\n').pop()}`);

  // --- the attacker's side: another namespace on the bridge
  const evil = await attacker(t, c);
  const pki = await makeTestPki(t); // only its foreign CA and certificate: another cluster's
  const foreign = { ca: s0.ca!, cert: pki.foreign.cert, key: pki.foreign.key };
  const cluster = { ca: s0.ca!, cert: s0.cli_cert!, key: s0.cli_key! };
  const follower = c.masters[s0.masters.findIndex((m) => !m.leader)]!;
  const leader = c.masters[s0.masters.findIndex((m) => m.leader)]!;
  const a1 = c.agents[0]!;
  const targets = [
    { what: `follower ${follower.n} Mesos`, url: `https://${follower.ip}:${c.plan.masterPort}/master/redirect`, served: 307 },
    { what: `follower ${follower.n} Marathon`, url: `https://${follower.ip}:${c.plan.marathonPort}/v2/leader`, served: 200 },
    { what: `leader ${leader.n} Mesos`, url: `https://${leader.ip}:${c.plan.masterPort}/master/state`, served: 200 },
    { what: `leader ${leader.n} Marathon`, url: `https://${leader.ip}:${c.plan.marathonPort}/v2/apps`, served: 200 },
    { what: `leader ${leader.n} Mesos-DNS HTTP`, url: `https://${leader.ip}:8123/v1/version`, served: 200 },
    { what: 'agent 1', url: `https://${a1.ip}:${c.plan.agentPort}/state`, served: 200 },
  ];
  for (const x of targets) {
    const plain = await curl(evil, x.url.replace(/^https/, 'http'));
    t.not(plain.code, 200, `${x.what}: plain HTTP gets nothing (${plain.code || plain.error})`);
    const anon = await curl(evil, x.url, { ca: s0.ca! });
    t.ok(anon.code === 0 || anon.code === 401, `${x.what}: no client certificate refused (${anon.code || anon.error})`);
    const other = await curl(evil, x.url, foreign);
    t.equal(other.code, 0, `${x.what}: another CA's certificate refused at the TLS layer (${other.error})`);
    const ok = await curl(evil, x.url, cluster);
    t.equal(ok.code, x.served, `${x.what}: the cluster CA's operator certificate is served`);
  }
  for (const ip of [follower.ip, leader.ip]) {
    // The control plane (gRPC over TLS) runs on the leader; on a follower the port is closed: refused either way.
    for (const [what, tls] of [['no certificate', { ca: s0.ca! }], ["another CA's", foreign]] as const) {
      const r = await curl(evil, `https://${ip}:5060/`, tls);
      t.equal(r.code, 0, `control plane on ${ip}: ${what} refused (${r.error})`);
    }
  }
  // ZooKeeper (#30): the store behind the masters' digest ACL, the election world-readable only.
  const zkHosts = /^zk:\/\/([^/]+)\//.exec(s0.zk ?? '')?.[1];
  t.ok(zkHosts && !zkHosts.includes('@'), `the status file's zk URL carries no credential (${s0.zk})`);
  const [zkHost, zkPort] = [zkHosts!.split(',')[0]!.split(':')[0]!, Number(zkHosts!.split(',')[0]!.split(':')[1])];
  const probe = await zkAnonProbe(evil, zkHosts!, { host: zkHost, port: zkPort });
  for (const [op, got] of Object.entries(probe.ops).filter(([op]) => !/^(getChildren \/mesos|getData \/mesos)/.test(op)))
    t.equal(got, 'NO_AUTH', `anonymous ZooKeeper client in the attacker's namespace: ${op} -> ${got}`);
  t.equal(probe.ops['getChildren /mesos'], 'ok', 'it lists the election under /mesos');
  t.equal(probe.ops['getData /mesos/<leader>'], 'ok', 'and reads the leader znode');
  t.match(JSON.parse(probe.leader ?? '{}'), { address: { ip: leader.ip, port: c.plan.masterPort } }, 'which names the leader');
  for (const w of ['stat', 'dump']) t.match(probe.words[w], /is not executed because it is not in the whitelist/, `4lw ${w} (lists sessions) is not served: ${JSON.stringify(probe.words[w]?.slice(0, 80))}`);
  t.ok(s0.zk_auth_file, `the status file names the credential file (${s0.zk_auth_file})`);
  t.equal(statSync(s0.zk_auth_file!).mode & 0o777, 0o600, 'mode 0600');
  const secret = readFileSync(s0.zk_auth_file!, 'utf8').trim();
  t.match(secret, /^sextant:\S{20,}$/, 'a generated user:password');
  t.notOk(readFileSync(c.statusFile, 'utf8').includes(secret.split(':')[1]!), 'the secret is not in the status file');
  for (const m of s0.masters) t.notOk(readFileSync(`/proc/${m.pid}/cmdline`, 'utf8').includes(secret.split(':')[1]!), `nor on master pid ${m.pid}'s command line`);

  const anonEntry = await cliWithToken(dir, follower.entry!, s0.ca!, '', ['app', 'ls']);
  t.not(anonEntry.code, 0, `a follower's entry point without a token refuses: ${anonEntry.out.trim().split('\n').pop()}`);

  // --- kill -9 the leader
  process.kill(lead0.pid, 'SIGKILL');
  const s1 = await eventually(() => {
    const s = c.status();
    const l = leaderOf(s);
    return l.length === 1 && l[0]!.pid !== lead0.pid && alive(l[0]!.pid) && s.entry === l[0]!.entry && s;
  }, 90_000, 100, 'the status file to name a new leader and its entry point');
  const lead1 = leaderOf(s1)[0]!;
  t.not(lead1.mesos, lead0.mesos, `a new leader: ${lead1.mesos}`);
  const other = s1.masters.find((m) => m.mesos !== lead0.mesos && m.mesos !== lead1.mesos)!;
  for (const m of [other, lead1]) {
    const id = `sec-after-${new URL(m.mesos).hostname.split('.').pop()}`;
    const r = await eventually(async () => {
      const x = await cliWithToken(dir, m.entry!, s1.ca!, s0.token!, ['app', 'add', appFile(id)]);
      return x.code === 0 ? x : /already exists/.test(x.out) ? x : undefined;
    }, 60_000, 500, `a deploy through ${m.entry}`).catch((e: Error) => ({ code: -1, out: e.message }));
    t.equal(r.code, 0, `the same token deploys through ${m.entry} (${m === lead1 ? 'the new leader' : 'a follower'}): ${r.out.trim().split('\n').pop()}`);
  }

  // --- agents re-register with the new leader over TLS (their APIs are inside the bridge: asked from the other namespace, with the operator's certificate)
  const leaderHost = new URL(lead1.mesos).hostname;
  const leaderNsIp = c.masters.find((m) => new URL(m.mesos).hostname === leaderHost)!.ip;
  for (const [i, a] of s1.agents.entries())
    await eventually(async () => {
      const r = await curl(evil, `${a.api}/state`, cluster);
      const st = r.code === 200 ? (JSON.parse(r.body ?? '{}') as { flags?: { master?: string } }) : undefined;
      return st?.flags?.master === `${leaderNsIp}:${c.plan.masterPort}`;
    }, 60_000, 200, `agent ${i + 1} to follow the new leader`);
  const slaves = await eventually(async () => {
    const r = await requestJson(`${lead1.mesos}/master/state`, { ...op, timeoutMs: 5000 }).catch(() => undefined);
    const list = (r?.body as { slaves?: { id: string; active: boolean }[] } | undefined)?.slaves ?? [];
    return list.filter((x) => x.active).length === 2 && list;
  }, 60_000, 200, 'both agents active at the new leader');
  t.same(slaves.map((x) => x.id).sort(), c.agents.map((a) => a.id).sort(), 'the same agents re-registered with the new leader (over mutual TLS: the agents serve and call https)');

  // --- names resolve in an agent's namespace
  const tasks = (await requestJson(`${lead1.marathon}/v2/apps/hello/tasks`, { ...op, timeoutMs: 5000 })).body as { tasks: { host: string }[] };
  const want = [...new Set(tasks.tasks.map((x) => x.host))].sort();
  let names: string[] = [];
  await eventually(async () => {
    const r = await sh('ip', ['netns', 'exec', a1.ns, 'dig', '+short', '+time=2', '+tries=2', 'hello.marathon.mesos', 'A']).catch(() => ({ stdout: '' }));
    names = [...new Set(r.stdout.trim().split('\n').filter(Boolean))].sort();
    return names.join() === want.join();
  }, 30_000, 200, "hello.marathon.mesos to resolve in agent 1's namespace").catch(() => undefined);
  t.same(names, want, "after the failover hello.marathon.mesos resolves through agent 1's dispatcher");
});
