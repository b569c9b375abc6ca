/**
 * Issue #28, diagnostics, on `sextant up --netns` (real master and agents, each agent in its own
 * namespace, the nftables L4LB): break each component on purpose and watch its unit on the masters'
 * aggregate turn unhealthy on the right node with an output saying why, then healthy after repair.
 *   agent 2: the dispatcher made unreachable (nft drop of port 53), the control stream cut (reject
 *            + ss -K), the CNI plugin removed; repaired by removing the table, restoring the file.
 *   agent 1: the l4lb table flushed, the VTEP deleted; repaired by the periodic reconcile (each
 *            break is made just after a reconcile ran, so the next is ~30 s away: no race).
 * `sextant diag` exits 1 while something is unhealthy and 0 when all is well; `sextant node ls`
 * lists the agents with their health; `sextant diag bundle` writes the archive (listed with tar),
 * with a plain progress line per node off a terminal and a bar on one (script(1) gives a pty).
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, requireNetns, requireTools, uniqueName } from '../lib/index.js';
import { sextantJs } from './backbone-lib.js';
import { startNetnsUp, type NetnsCluster } from './netns-up.js';

t.setTimeout(480_000);
requireNetns();
requireTools('ip', 'nft', 'ss', 'tar', 'script', 'curl');

const pexec = promisify(execFile);

interface Unit {
  id: string;
  health: 0 | 1;
  output: string;
}

function sextant(c: NetnsCluster, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [sextantJs, ...args], { timeout: 120_000, env: { ...process.env, SEXTANT_MASTER: c.master } }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

const unitOn = (c: NetnsCluster, ip: string, id: string) => getJson<Unit>(`${c.master}/system/health/v1/nodes/${ip}/units/${id}`);

/** Poll the aggregate until unit `id` on `ip` has `health` (bounded); returns it. */
function awaitUnit(c: NetnsCluster, ip: string, id: string, health: 0 | 1, timeoutMs: number): Promise<Unit> {
  return eventually(async () => {
    const u = await unitOn(c, ip, id).catch(() => undefined);
    return u?.health === health ? u : undefined;
  }, timeoutMs, 250, `${id} on ${ip} ${health ? 'healthy' : 'unhealthy'}`);
}

/** The aggregate's view of a unit across nodes: unhealthy exactly on `ip`. */
async function onlyOn(t: Test, c: NetnsCluster, id: string, ip: string): Promise<void> {
  const { nodes } = await getJson<{ nodes: { host_ip: string; health: number }[] }>(`${c.master}/system/health/v1/units/${id}/nodes`);
  t.same(nodes.filter((n) => n.health === 0).map((n) => n.host_ip), [ip], `/units/${id}/nodes: unhealthy on ${ip} only`);
}

async function allHealthy(c: NetnsCluster, timeoutMs: number): Promise<void> {
  await eventually(async () => (await sextant(c, ['diag'])).code === 0, timeoutMs, 500, 'sextant diag exit 0');
}

/** The agent's API base URL (its pid in /master/state). */
async function agentApi(c: NetnsCluster, i: number): Promise<string> {
  const st = await getJson<{ slaves: { id: string; pid: string }[] }>(`${c.master}/master/state`);
  const pid = st.slaves.find((s) => s.id === c.agents[i - 1]!.id)!.pid;
  return `http://${pid.slice(pid.indexOf('@') + 1)}`;
}

/** Resolve just after the counter `name` on agent i moved on (a periodic reconcile ran). */
async function justAfterTick(c: NetnsCluster, i: number, api: string, name: RegExp): Promise<void> {
  const seen: number[] = [];
  const read = async () => {
    const text = await c.inAgent(i, ['curl', '-sS', '-m', '5', `${api}/metrics`]);
    const n = Number(text.match(name)?.[1] ?? 0); // absent until the first one
    seen.push(n);
    return n;
  };
  const before = await read();
  await eventually(async () => (await read()) > before, 45_000, 200, `a new ${name.source} on ${api}`).catch((e: Error) => {
    throw new Error(`${e.message} (read: ${[...new Set(seen)].join(', ')})`);
  });
}

t.test('units turn unhealthy on the right node when broken, and healthy after repair', async (t) => {
  const c = await startNetnsUp(t, 2, { SEXTANT_L4LB_DRIVER: 'nftables' }, { example: true });
  const [a1, a2] = [c.agents[0]!, c.agents[1]!];
  await allHealthy(c, 60_000);

  const units = await getJson<{ units: { id: string }[] }>(`${c.master}/system/health/v1/units`);
  t.same(units.units.map((u) => u.id), ['sextant-cni', 'sextant-control', 'sextant-dns-dispatcher', 'sextant-l4lb', 'sextant-master-store', 'sextant-mesos-dns', 'sextant-overlay'], 'every unit is there');
  const node = await getJson<Record<string, unknown>>(`${c.master}/system/health/v1`);
  t.match(node, { node_role: 'master', units: [{ id: 'sextant-control' }, { id: 'sextant-master-store', health: 1 }, { id: 'sextant-mesos-dns', health: 1 }] }, "the master's own units");
  const ok = await sextant(c, ['diag']);
  t.equal(ok.code, 0, 'sextant diag exits 0 when all is healthy');
  t.match(ok.out, /3 node\(s\), 13 unit\(s\): all healthy/);
  const ls = await sextant(c, ['node', 'ls']);
  t.equal(ls.code, 0, 'sextant node ls exits 0');
  for (const a of c.agents) t.match(ls.out, new RegExp(`${a.id}\\s+${a.ip.replace(/\./g, '\\.')}:\\d+\\s+\\S+\\s+active\\s+-\\s+healthy\\s+5/5`), `node ls: ${a.ip} active, healthy 5/5`);

  // Agent 2: dispatcher unreachable, control stream cut, CNI plugin gone.
  const table = uniqueName('dcut');
  await pexec('nsenter', ['--target', String(a2.pid), '--net', '--', 'nft', `add table inet ${table}; add chain inet ${table} out { type filter hook output priority 0 ; policy accept ; }; add rule inet ${table} out udp dport 53 drop; add rule inet ${table} out tcp dport 53 drop; add rule inet ${table} out tcp dport 5060 reject with tcp reset`]);
  t.teardown(() => pexec('nsenter', ['--target', String(a2.pid), '--net', '--', 'nft', 'delete', 'table', 'inet', table]).catch(() => undefined));
  await c.inAgent(2, ['ss', '-K', 'dport', '=', ':5060']).catch(() => undefined);
  const plugin = join(a2.dir, 'cni', 'bin', 'sextant-cni');
  t.ok(existsSync(plugin), `${plugin} installed`);
  renameSync(plugin, `${plugin}.moved`);
  const broken: [string, RegExp][] = [
    ['sextant-dns-dispatcher', new RegExp(`ready\\.spartan A: ${a2.ip.replace(/\./g, '\\.')}:53: (?!NOERROR)`)],
    ['sextant-control', /watch stream to \S+ is not connected/],
    ['sextant-cni', /plugin \S+sextant-cni is missing or not executable/],
  ];
  for (const [id, why] of broken) {
    const u = await awaitUnit(c, a2.ip, id, 0, 30_000);
    t.match(u.output, why, `${id} on agent 2 is unhealthy: ${u.output}`);
    await onlyOn(t, c, id, a2.ip);
    t.equal((await unitOn(c, a1.ip, id)).health, 1, `${id} on agent 1 stays healthy`);
  }
  const bad = await sextant(c, ['diag']);
  t.equal(bad.code, 1, 'sextant diag exits 1 while units are unhealthy');
  for (const [id] of broken) t.match(bad.out, new RegExp(`${id} on ${a2.ip.replace(/\./g, '\\.')}`), `and names ${id} on agent 2`);
  const json = JSON.parse((await sextant(c, ['diag', '--json'])).out) as { healthy: boolean; nodes: { ip: string; health: number }[] };
  t.equal(json.healthy, false, 'diag --json says unhealthy');
  const lsBad = JSON.parse((await sextant(c, ['node', 'ls', '--json'])).out) as { slaves: { id: string; health: { health: number; unhealthy: string[] } | null }[] };
  t.same(lsBad.slaves.find((n) => n.id === a2.id)?.health?.unhealthy.sort(), broken.map(([id]) => id).sort(), 'node ls --json lists agent 2\'s unhealthy units');
  t.match((await sextant(c, ['node', 'ls'])).out, new RegExp(`${a2.id}\\s.*\\sUNHEALTHY\\s+2/5\\s+sextant-cni, sextant-control, sextant-dns-dispatcher`), 'node ls: agent 2 UNHEALTHY, naming its units');

  await pexec('nsenter', ['--target', String(a2.pid), '--net', '--', 'nft', 'delete', 'table', 'inet', table]);
  renameSync(`${plugin}.moved`, plugin);
  for (const [id] of broken) t.match(await awaitUnit(c, a2.ip, id, 1, 30_000), { health: 1 }, `${id} on agent 2 is healthy again after repair`);

  // Agent 1: the l4lb table flushed, then the VTEP deleted, each just after a periodic reconcile.
  const api1 = await agentApi(c, 1);
  await justAfterTick(c, 1, api1, /^sextant_l4lb_sync_duration_seconds_count\{[^}]*kind="reconcile"[^}]*\} (\d+)/m);
  await c.inAgent(1, ['nft', 'flush', 'table', 'inet', 'sextant_l4lb']);
  const l4 = await awaitUnit(c, a1.ip, 'sextant-l4lb', 0, 10_000);
  t.match(l4.output, /nftables driver, version \d+: kernel differs from the desired state: .*chains or rules differ/, `sextant-l4lb on agent 1: ${l4.output}`);
  await onlyOn(t, c, 'sextant-l4lb', a1.ip);
  t.match(await awaitUnit(c, a1.ip, 'sextant-l4lb', 1, 60_000), { health: 1 }, 'sextant-l4lb healthy again after the periodic reconcile');

  await justAfterTick(c, 1, api1, /^sextant_overlay_update_duration_seconds_count(?:\{[^}]*\})? (\d+)/m);
  await c.inAgent(1, ['ip', 'link', 'del', 'vtep1024']);
  const ov = await awaitUnit(c, a1.ip, 'sextant-overlay', 0, 10_000);
  t.match(ov.output, /vtep1024 is missing; kernel differs from the desired vtep1024 44\.128\.\S+ .*link add vtep1024 type vxlan/, `sextant-overlay on agent 1: ${ov.output}`);
  await onlyOn(t, c, 'sextant-overlay', a1.ip);
  t.match(await awaitUnit(c, a1.ip, 'sextant-overlay', 1, 60_000), { health: 1 }, 'sextant-overlay healthy again after the periodic reconcile');

  await allHealthy(c, 30_000);
  t.pass('sextant diag exits 0 again once everything is repaired');

  // The bundle, off a terminal and on one.
  const dir = mkdtempSync(join(tmpdir(), `${uniqueName('bundle')}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'b.tar.gz');
  const b = await sextant(c, ['diag', 'bundle', '-o', file]);
  t.equal(b.code, 0, `diag bundle exits 0 (${b.err})`);
  t.match(b.out, new RegExp(`^wrote ${file.replace(/\./g, '\\.')} \\(\\d+ bytes, 3 node\\(s\\)\\)`, 'm'));
  const progress = b.err.split('\n').filter((l) => /^bundle: node \d /.test(l));
  t.equal(progress.length, 3, `one progress line per node off a terminal:\n${b.err}`);
  const list = (await pexec('tar', ['-tzf', file])).stdout.split('\n').filter(Boolean);
  const top = list[0]!.split('/')[0]!;
  t.match(top, /^sextant-diag-\d{8}T\d{6}Z$/, 'one top directory');
  const want = ['cluster/health-report.json', 'cluster/master-state.json', 'cluster/control-agents.json'];
  const masterIp = (await getJson<{ ip: string }>(`${c.master}/system/health/v1`)).ip;
  for (const [ip, role] of [[masterIp, 'master'], [a1.ip, 'agent'], [a2.ip, 'agent']] as const) {
    want.push(`nodes/${ip}-${role}/health.json`, `nodes/${ip}-${role}/logs/process.log`);
    for (const d of ['nft-ruleset', 'ipvsadm', 'ip-link', 'ip-route', 'ip-neigh', 'bridge-fdb']) want.push(`nodes/${ip}-${role}/dumps/${d}.txt`);
  }
  for (const a of c.agents) want.push(...list.filter((p) => p.includes(`nodes/${a.ip}-agent/logs/workdir/sandboxes/`) && p.endsWith('/stdout')).slice(0, 1).map((p) => p.slice(top.length + 1)));
  for (const p of want) t.ok(list.includes(`${top}/${p}`), `the archive has ${p}`);
  t.ok(list.some((p) => /logs\/workdir\/sandboxes\/hello\.[^/]+\/stdout$/.test(p)), 'the task sandboxes\' stdout');
  const nft = (await pexec('tar', ['-xzOf', file, `${top}/nodes/${a1.ip}-agent/dumps/nft-ruleset.txt`])).stdout;
  t.match(nft, /^# nft list ruleset\n# exit 0\n[\s\S]*table inet sextant_l4lb/, "agent 1's ruleset, taken in its namespace");
  const link = (await pexec('tar', ['-xzOf', file, `${top}/nodes/${a1.ip}-agent/dumps/ip-link.txt`])).stdout;
  t.match(link, /vtep1024: .*\n.*\n\s+vxlan id 1024/, "agent 1's links, with the VTEP's details");

  const ttyFile = join(dir, 'tty.tar.gz');
  const cmd = `SEXTANT_MASTER=${c.master} ${process.execPath} ${sextantJs} diag bundle -o ${ttyFile}`;
  const tty = await pexec('script', ['-qec', cmd, '/dev/null'], { timeout: 120_000 });
  t.match(tty.stdout, /bundle \[[^\]]*\] 3\/3 nodes/, 'a progress bar on a terminal');
  t.ok(existsSync(ttyFile), 'and the archive');
});
