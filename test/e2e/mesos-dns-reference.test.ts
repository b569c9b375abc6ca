/**
 * The reference mesosphere/mesos-dns (Go, built outside this repository: docs/decisions.md, "Reference
 * mesos-dns against a secure master") polling a secure single-master `sextant up` over HTTPS with a
 * `mesos-dns` client certificate of the cluster CA, through its own config keys (`MesosHTTPSOn`,
 * `CACertFile`, `CertFile`, `KeyFile`; `masters`, as a single master has no ZooKeeper): the example
 * app's A and SRV records answer. Without the client certificate it gets no state and serves nothing.
 * Then the HA case (#25): against `sextant up --masters 3` (secure, ZooKeeper), the reference binary
 * with `"zk": "zk://.../mesos"` finds the leader the way it finds a Mesos leader and answers
 * `leader.mesos` with its address; after kill -9 of the leader it answers the new leader's.
 * Opt-in: runs only with SEXTANT_REFERENCE_MESOS_DNS=/path/to/mesos-dns; otherwise tap reports it skipped.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { identityUri, issueCert } from '../../common/index.js';
import { eventually, freePort, requireTools, requireZooKeeperServer, spawnTracked } from '../lib/index.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(600_000);
const pexec = promisify(execFile);
const binary = process.env.SEXTANT_REFERENCE_MESOS_DNS;

async function dig(port: number, name: string, type: string): Promise<string[]> {
  try {
    const { stdout } = await pexec('dig', ['@127.0.0.1', '-p', String(port), name, type, '+short', '+tries=1', '+time=1']);
    return stdout.trim().split('\n').filter(Boolean).sort();
  } catch {
    return [];
  }
}

/** The reference binary's config.json: DNS only, HTTPS to the masters with the cluster CA (and a client certificate). */
function refConfig(port: number, ca: string, leaf?: { cert: string; key: string }) {
  return {
    refreshSeconds: 1,
    stateTimeoutSeconds: 10,
    ttl: 60,
    domain: 'mesos',
    ns: 'ns1',
    port,
    resolvers: [],
    timeout: 5,
    listener: '127.0.0.1',
    SOAMname: 'ns1.mesos',
    SOARname: 'root.ns1.mesos',
    dnson: true,
    httpon: false,
    externalon: false,
    recurseon: false,
    IPSources: ['netinfo', 'mesos', 'host'],
    MesosHTTPSOn: true,
    CACertFile: ca,
    ...(leaf ? { CertFile: leaf.cert, KeyFile: leaf.key } : {}),
  };
}

const skip = binary ? false : 'set SEXTANT_REFERENCE_MESOS_DNS=/path/to/mesos-dns (built from mesosphere/mesos-dns, see docs/decisions.md) to run it';

t.test('reference mesos-dns polls a secure master with its mesos-dns certificate', { skip }, async (t) => {
  requireTools('dig', 'openssl');
  const plan = await upPlan();
  const dir = upWorkDir(t, 'refdns');
  const file = join(dir, 'status.json');
  const up = spawnUp(t, upArgs(plan, dir, 1, ['--status-file', file, '--no-admin'], { secure: true }), dir);
  await up.waitFor(/sextant up: (ready|not ready)/, 120_000);
  const s = JSON.parse(readFileSync(file, 'utf8')) as { ca: string; masters: { mesos: string }[]; agents: { ip: string }[] };
  const tasks = [...up.output().matchAll(/^ {2}example {4}curl http:\/\/(\S+):(\d+)\//gm)].map((m) => ({ host: m[1]!, port: m[2]! }));
  t.equal(tasks.length, 2, 'the example runs two tasks');

  const ca = { cert: s.ca, key: s.ca.replace(/\.crt$/, '.key') };
  const leaf = await issueCert(ca, join(dir, 'mesos-dns'), 'mesos-dns', { cn: 'mesos-dns', usage: 'client', uris: [identityUri('mesos-dns')] });
  const config = (port: number, withCert: boolean) => ({
    ...refConfig(port, s.ca, withCert ? leaf : undefined),
    zk: '',
    masters: [new URL(s.masters[0]!.mesos).host],
  });
  const run = async (name: string, withCert: boolean) => {
    const port = await freePort('127.0.0.1');
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(config(port, withCert)));
    return { port, proc: spawnTracked(t, binary!, ['-config', path, '-v', '1']) };
  };
  const good = await run('mesos-dns', true);
  await good.proc.waitFor(/reload occurred, serving DNS/, 30_000);
  const a = await eventually(async () => {
    const r = await dig(good.port, 'hello.marathon.mesos', 'A');
    return r.length > 0 && r;
  }, 30_000, 250, 'hello.marathon.mesos from the reference mesos-dns');
  t.same(a, [...new Set(tasks.map((x) => x.host))].sort(), "hello.marathon.mesos: the agent's address");
  const srv = await dig(good.port, '_hello._tcp.marathon.mesos', 'SRV');
  t.same(srv.map((r) => r.split(' ')[2]).sort(), tasks.map((x) => x.port).sort(), '_hello._tcp.marathon.mesos: both tasks\' ports');

  const bad = await run('mesos-dns-nocert', false);
  await bad.proc.waitFor(/Failed to fetch state/, 30_000);
  t.notMatch(bad.proc.output(), /reload occurred, serving DNS/, 'without the client certificate it gets no state and serves nothing');
  t.same(await dig(bad.port, 'hello.marathon.mesos', 'A'), [], 'and answers nothing');
});

t.test('reference mesos-dns follows the leader of a secure HA cluster through ZooKeeper', { skip }, async (t) => {
  requireZooKeeperServer();
  requireTools('dig', 'openssl');
  const plan = await upPlan();
  const dir = upWorkDir(t, 'refdnsha');
  const file = join(dir, 'status.json');
  const up = spawnUp(t, upArgs(plan, join(dir, 'work'), 1, ['--masters', '3', '--status-file', file, '--agent-timeout-ms', '15000'], { secure: true }), join(dir, 'work'));
  await up.waitFor(/sextant up: (ready|not ready)/, 300_000);
  type HaStatus = { ca: string; zk: string; masters: { mesos: string; pid: number; leader: boolean }[] };
  const read = () => JSON.parse(readFileSync(file, 'utf8')) as HaStatus;
  const s = read();
  const ca = { cert: s.ca, key: s.ca.replace(/\.crt$/, '.key') };
  const leaf = await issueCert(ca, join(dir, 'mesos-dns'), 'mesos-dns', { cn: 'mesos-dns', usage: 'client', uris: [identityUri('mesos-dns')] });
  // The Mesos election path beside sextant's own: zk://servers/mesos, as a DC/OS mesos-dns config names it.
  const zk = s.zk.replace(/\/[^/]*$/, '/mesos');
  const port = await freePort('127.0.0.1');
  const path = join(dir, 'mesos-dns.json');
  writeFileSync(path, JSON.stringify({ ...refConfig(port, s.ca, leaf), zk, masters: [], zkDetectionTimeout: 30 }));
  const proc = spawnTracked(t, binary!, ['-config', path, '-v', '1']);
  await proc.waitFor(/reload occurred, serving DNS/, 60_000);
  const leaderIp = (st: HaStatus) => new URL(st.masters.find((m) => m.leader)!.mesos).hostname;
  const lead0 = s.masters.find((m) => m.leader)!;
  const a0 = await eventually(async () => {
    const r = await dig(port, 'leader.mesos', 'A');
    return r.length === 1 && r[0] === leaderIp(s) && r;
  }, 30_000, 250, `leader.mesos = ${leaderIp(s)} from the reference mesos-dns`);
  t.same(a0, [leaderIp(s)], "leader.mesos: the leader's address, found through ZooKeeper");

  process.kill(lead0.pid, 'SIGKILL');
  const s1 = await eventually(() => {
    const st = read();
    const l = st.masters.filter((m) => m.leader);
    return l.length === 1 && l[0]!.pid !== lead0.pid && st;
  }, 60_000, 100, 'the status file to name a new leader');
  const a1 = await eventually(async () => {
    const r = await dig(port, 'leader.mesos', 'A');
    return r.length === 1 && r[0] === leaderIp(s1) && r;
  }, 60_000, 250, `leader.mesos = ${leaderIp(s1)} after the failover`);
  t.same(a1, [leaderIp(s1)], "after kill -9 of the leader: leader.mesos is the new leader's address");
  t.not(leaderIp(s1), leaderIp(s), 'another master');
});
