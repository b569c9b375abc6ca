/**
 * `sextant up`: a local cluster in the foreground (options and --help: up-args.ts).
 *
 * A master on <ip-base>.1 and N agents on <ip-base>.2, .3, ... (Linux routes all of 127/8 to lo,
 * so no root is needed), each a child process of this one. Each agent gets its own host port range
 * (port-base + 1000*i ...) because they share one kernel. Deploys an example app unless
 * --no-example, prints where everything is, and on SIGINT/SIGTERM stops what it started.
 *
 * It never touches what it did not start:
 *  - before starting anything, the pre-flight (up-preflight.ts) checks every address:port it will
 *    bind, the work dir (up-lock.ts) and the status file, and fails naming the holder;
 *  - clean-up acts on the pids it spawned, the task checkpoints of its own agents' work dirs (the
 *    dir is locked), the namespaces it created, and the example app only if this run created it
 *    at a master it still runs (up-example.ts).
 * With --netns (root) every agent runs in its own network namespace on a bridge (up-netns.ts).
 * With --status-file PATH it keeps a JSON description of the cluster there (up-status.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestJson } from '../common/http.js';
import { ensureCa } from '../common/pki.js';
import { untilSignal } from '../common/daemon.js';
import { killCheckpointedTasks } from '../agent/index.js';
import { NetnsLayout } from './up-netns.js';
import { readUpArgs, type UpOptions } from './up-args.js';
import { preflight } from './up-preflight.js';
import { acquireLock, LOCK_FILE, selfRef } from './up-lock.js';
import { StatusFile } from './up-status.js';
import { waitApplied, type Applied, type StartedAgent } from './up-applied.js';
import { deleteOwnedExample, deployExample, EXAMPLE_CONTAINER_PORT, EXAMPLE_ID, type MarathonTask, type OwnedApp } from './up-example.js';
import { nextSteps } from './up-next.js';

export { parseUpArgs, type UpOptions } from './up-args.js';

/** dist/cli/sextant.js, whether this runs compiled (dist/cli/up.js) or through tsx (cli/up.ts). */
export function sextantEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? join(here, '..', '..', 'dist', 'cli', 'sextant.js') : join(here, '..', 'sextant.js');
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  lines: string[];
}

const say = (s: string) => process.stdout.write(`${s}\n`);

/**
 * Agents that share the host's kernel (no --netns) must not each program it (nftables VIPs, VXLAN,
 * a DNS server on :53): they run only the control-plane client. In --netns mode each agent is a
 * full node, and should its L4LB run the userspace proxy, that proxy makes the VIPs it serves local
 * (addresses of the agent namespace's `lo`). SEXTANT_NODE_SERVICES set by the user wins.
 */
function nodeServicesEnv(netns: boolean): Record<string, string> {
  if (netns) return process.env.SEXTANT_L4LB_VIP_INTERFACE ? {} : { SEXTANT_L4LB_VIP_INTERFACE: 'lo' };
  if (process.env.SEXTANT_NODE_SERVICES) return {};
  return { SEXTANT_NODE_SERVICES: 'control' };
}

type Wrap = (cmd: string, args: string[]) => [string, string[]];

function startChild(name: string, argv: string[], logDir: string, onExit: (how: string) => void, wrap?: Wrap, env: Record<string, string> = {}): Child {
  const [cmd, args] = wrap ? wrap(process.execPath, [sextantEntry(), ...argv]) : [process.execPath, [sextantEntry(), ...argv]];
  const logFile = join(logDir, `${name}.log`);
  // SEXTANT_LOG_FILE: the node serves its own log to `sextant diag bundle` (diag/logs.ts).
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env, SEXTANT_LOG_FILE: logFile } });
  const log = createWriteStream(logFile, { flags: 'a' });
  proc.stderr!.pipe(log);
  const lines: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<void>((resolve) =>
    proc.once('exit', (code, sig) => {
      const how = sig ?? `code ${code}`;
      say(`${name}: exited (${how})`);
      onExit(how);
      resolve();
    }),
  );
  return { name, proc, exited, lines };
}

/** Wait for a stdout line of the child matching `re` (fails when it exits first). */
async function waitLine(c: Child, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const end = Date.now() + timeoutMs;
  let dead = false;
  void c.exited.then(() => (dead = true));
  for (;;) {
    for (const l of c.lines) {
      const m = l.match(re);
      if (m) return m;
    }
    if (dead) throw new Error(`${c.name} exited before it was ready; see its log`);
    if (Date.now() > end) throw new Error(`${c.name} not ready after ${timeoutMs} ms; see its log`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  process.stdout.write(`${what} ... `);
  try {
    const v = await fn();
    say(`ok (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return v;
  } catch (e) {
    say('failed');
    throw e;
  }
}

const running = (c: Child | undefined): c is Child => !!c && c.proc.exitCode === null && c.proc.signalCode === null;

export interface UpCluster {
  masterUrl: string;
  marathonUrl: string;
  masterPid: number;
  agentPids: number[];
  stop(): Promise<void>;
}

/** Nothing was started: what stood in the way, one line each. */
export class PreflightError extends Error {
  override name = 'PreflightError';
  constructor(readonly problems: string[]) {
    super(`not starting: ${problems.join('; ')}`);
  }
}

/**
 * Check (up-preflight.ts), take the work-dir lock, start the cluster. Throws PreflightError,
 * having started nothing, when something it needs is taken; on a later failure it stops what it
 * started and rethrows.
 */
export async function startCluster(o: UpOptions): Promise<UpCluster> {
  if (!existsSync(sextantEntry())) throw new PreflightError([`${sextantEntry()} is missing: build first (npm run build)`]);
  const problems = await preflight(o);
  if (problems.length) throw new PreflightError(problems);
  mkdirSync(o.workDir, { recursive: true });
  let release: () => void;
  try {
    release = acquireLock(join(o.workDir, LOCK_FILE));
  } catch (e) {
    throw new PreflightError([`--work-dir ${o.workDir}: ${(e as Error).message}`]);
  }
  try {
    return await runCluster(o, release);
  } catch (e) {
    release();
    throw e;
  }
}

async function runCluster(o: UpOptions, release: () => void): Promise<UpCluster> {
  const logDir = join(o.workDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const layout = o.netns ? new NetnsLayout(o.agents, o.ipv6 ?? false) : undefined;
  const masterIp = layout ? layout.masterIp : `${o.ipBase}.1`;
  const apiIp = layout ? '127.0.0.1' : masterIp;
  const masterUrl = `http://${apiIp}:${o.masterPort}`;
  const marathonUrl = `http://${apiIp}:${o.marathonPort}`;
  const agentIp = (i: number) => (layout ? layout.agentIp(i) : `${o.ipBase}.${i + 2}`);
  const entryUrl = o.adminPort ? `https://${apiIp}:${o.adminPort}` : undefined;
  const status = new StatusFile(o.statusFile, { state: 'up', ...selfRef(), workDir: o.workDir, masters: [], agents: [] });
  status.removeStale();
  const agents: Child[] = [];
  const agentDirs: string[] = [];
  const started: StartedAgent[] = [];
  let master: Child | undefined;
  let owned: OwnedApp | undefined;
  const stop = async () => {
    status.update((s) => void (s.state = 'stopping'));
    const guard = { masterAlive: () => running(master), ourPids: () => [process.pid, ...(master?.proc.pid ? [master.proc.pid] : []), ...(layout?.proxyPid ? [layout.proxyPid] : [])] };
    await deleteOwnedExample(owned, guard, say);
    await stopCluster(master, agents, agentDirs, layout);
    status.update((s) => void (s.state = 'stopped'));
  };
  const stopAndRelease = async () => {
    await stop();
    release();
  };
  try {
    if (layout) await step(`creating ${o.agents} network namespaces (${layout.prefix}*) and a bridge`, () => layout.create());
    const ca = o.adminPort ? await step(`making the cluster CA in ${join(o.workDir, 'pki')}`, () => ensureCa(join(o.workDir, 'pki'))) : undefined;
    master = await step(`starting master on ${masterIp}:${o.masterPort}`, async () => {
      const admin = ca ? ['--admin-port', String(o.adminPort), '--ca-dir', join(o.workDir, 'pki')] : [];
      const argv = ['master', '--ip', masterIp, '--port', String(o.masterPort), '--marathon-port', String(o.marathonPort), '--work-dir', join(o.workDir, 'master'), '--agent-timeout-ms', String(o.agentTimeoutMs), ...admin];
      const c = startChild('master', argv, logDir, (how) => status.update((s) => s.masters.forEach((m) => Object.assign(m, { state: 'exited', exit: how }))), layout?.wrapMaster(), { SEXTANT_MESOS_DNS_PORT: String(o.mesosDnsPort), ...(o.ipv6 ? { SEXTANT_OVERLAY_SUBNET6: DUAL_STACK_SUBNET6 } : {}) });
      await waitLine(c, /sextant master listening/, 30_000);
      return c;
    });
    say(`master: pid ${master.proc.pid} http://${masterIp}:${o.masterPort}`);
    if (layout) await step(`forwarding 127.0.0.1:${o.masterPort} and :${o.marathonPort} to the master in ${layout.hubName}`, () => layout.expose([o.masterPort, o.marathonPort, ...(o.adminPort ? [o.adminPort] : [])]));
    const masterId = await masterIdOf(masterUrl);
    if (entryUrl && ca) status.update((s) => Object.assign(s, { entry: entryUrl, ca: ca.cert }));
    status.update((s) => s.masters.push({ id: masterId, mesos: masterUrl, marathon: marathonUrl, pid: master!.proc.pid!, leader: true, state: running(master) ? 'running' : 'exited' }));
    for (let i = 0; i < o.agents; i++) {
      const ip = agentIp(i);
      const dir = join(o.workDir, `agent-${i + 1}`);
      const ports = `ports:[${o.portBase + 1000 * i}-${o.portBase + 1000 * i + 999}]`;
      const argv = ['agent', '--master', `${masterIp}:${o.masterPort}`, '--ip', ip, '--port', String(o.agentPort), '--hostname', ip, '--work-dir', dir, '--resources', `cpus:4;mem:4096;disk:10000;${ports}`, '--kill-tasks-on-exit', ...(layout?.ipv6 ? ['--ip6', layout.agentIp6(i)] : [])];
      let pid = 0;
      const onExit = (how: string) => status.update((s) => s.agents.filter((a) => a.pid === pid).forEach((a) => Object.assign(a, { state: 'exited', exit: how })));
      const c = await step(`starting agent ${i + 1} on ${ip}:${o.agentPort}`, async () => {
        const a = startChild(`agent-${i + 1}`, argv, logDir, onExit, layout?.wrapAgent(i), nodeServicesEnv(layout !== undefined));
        pid = a.proc.pid ?? 0;
        agents.push(a);
        agentDirs.push(dir);
        const m = await waitLine(a, /sextant agent (\S+) registered/, 30_000);
        return { a, id: m[1]! };
      });
      say(`agent ${i + 1}: pid ${c.a.proc.pid} http://${ip}:${o.agentPort} id ${c.id} work dir ${dir}`);
      started.push({ n: i + 1, id: c.id });
      status.update((s) => s.agents.push({ id: c.id, ip, api: `http://${ip}:${o.agentPort}`, pid: c.a.proc.pid!, netns: layout ? layout.agentNs(i) : null, state: running(c.a) ? 'running' : 'exited' }));
    }
    let tasks: MarathonTask[] = [];
    if (o.example) {
      const r = await step(`deploying example app ${EXAMPLE_ID} (2 instances${o.ipv6 ? ', dual-stack on network dcos' : ''})`, () =>
        deployExample(marathonUrl, (s) => process.stdout.write(s), o.ipv6).catch((e: Error & { owned?: OwnedApp }) => {
          owned = e.owned;
          throw e;
        }),
      );
      owned = r.owned;
      tasks = r.tasks;
    }
    const applied = await waitApplied(masterUrl, started, APPLIED_TIMEOUT_MS);
    // The file first: a script that sees "ready" may read it at once.
    status.publish();
    printSummary(o, masterUrl, marathonUrl, tasks, applied, layout, entryUrl && ca ? { url: entryUrl, ca: ca.cert } : undefined);
    return { masterUrl, marathonUrl, masterPid: master.proc.pid!, agentPids: agents.map((a) => a.proc.pid!), stop: stopAndRelease };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The id the master this run started reports (its /master/state). */
async function masterIdOf(masterUrl: string): Promise<string> {
  const r = await requestJson(`${masterUrl}/master/state`, { timeoutMs: 10_000 });
  const id = (r.body as { id?: unknown } | undefined)?.id;
  if (r.status !== 200 || typeof id !== 'string') throw new Error(`${masterUrl}/master/state answered ${r.status} without an id`);
  return id;
}

/** How long `up` waits for every agent to apply the control plane's current version before it says which did not. */
const APPLIED_TIMEOUT_MS = 30_000;

/** The services the agents run (what nodeServicesEnv gives them; plugins.ts's default otherwise). */
function agentServices(netns: boolean): string {
  return nodeServicesEnv(netns).SEXTANT_NODE_SERVICES ?? process.env.SEXTANT_NODE_SERVICES ?? 'l4lb,overlay,cni,dispatcher,control';
}

function printSummary(o: UpOptions, masterUrl: string, marathonUrl: string, tasks: MarathonTask[], applied: Applied, layout?: NetnsLayout, entry?: { url: string; ca: string }): void {
  say('');
  say(`Sextant is up (logs and state in ${o.workDir})`);
  say(`  master     ${masterUrl}/master/state`);
  say(`  marathon   ${marathonUrl}/v2/apps`);
  if (entry) say(`  entry      curl --cacert ${entry.ca} -H "Authorization: token=$TOKEN" ${entry.url}/marathon/v2/apps   (HTTPS entry point: /mesos/, /marathon/, /mesos_dns/, /net/, /service/<app>/)`);
  const via = layout ? `ip netns exec ${layout.hubName} ` : '';
  if (layout?.ipv6) for (const line of dualStackLines(tasks, layout)) say(line);
  else for (const t of tasks) say(`  example    ${via}curl http://${t.host}:${t.ports[0]}/   (${t.id})`);
  say(`  resolve    ${via}dig @${layout?.masterIp ?? `${o.ipBase}.1`} -p ${o.mesosDnsPort} ${EXAMPLE_ID.replace(/^\//, '')}.marathon.mesos   (Mesos-DNS on the master)`);
  if (layout && tasks.length) {
    const name = `${EXAMPLE_ID.replace(/^\//, '')}.marathon.l4lb.thisdcos.directory`;
    say(`  vip        ip netns exec ${layout.agentNs(0)} sh -c 'curl http://$(dig +short @${layout.agentIp(0)} ${name})/'   (the app's VIP, balanced in agent 1's kernel)`);
  }
  if (layout && tasks.length) say(`  names      ip netns exec ${layout.agentNs(0)} dig ${EXAMPLE_ID.replace(/^\//, '')}.marathon.mesos   (each agent namespace resolves through its agent's dispatcher)`);
  if (layout) say(`  netns      agents run in ${layout.describe()}; reach them with \`ip netns exec ${layout.hubName} curl ...\``);
  const services = agentServices(layout !== undefined);
  say(`  agents     run ${services}`);
  if (!layout && !/\b(l4lb|overlay|dispatcher)\b/.test(services))
    say('             (they share this host\'s kernel, so no VIPs, overlay networks or DNS dispatcher; `sextant up --netns`, as root, runs the full data plane)');
  if (o.statusFile) say(`  status     ${o.statusFile}`);
  say('Next, from another shell:');
  for (const line of nextSteps({ entry: sextantEntry(), masterUrl, marathonUrl, ...(tasks.length ? { exampleId: EXAMPLE_ID, exampleTask: tasks[0]!.id } : {}), netns: layout !== undefined })) say(line);
  say('Ctrl-C stops everything (apps, agents, master).');
  if (applied.kind === 'behind') {
    say(`sextant up: not ready: not every agent applied the control plane's version ${applied.version} (after ${APPLIED_TIMEOUT_MS / 1000} s at most):`);
    for (const p of applied.problems) say(`  ${p}`);
    say('(the cluster keeps running; the agents\' logs are in the logs directory)');
    return;
  }
  say('sextant up: ready');
}

/** The IPv6 prefix of network dcos under `sextant up --ipv6` (DESIGN.md's optional dcos IPv6, prefix 80). */
const DUAL_STACK_SUBNET6 = 'fd01:b::/64';

/**
 * How to reach the dual-stack example (`--ipv6`): each task over IPv4 and IPv6 on network dcos
 * (from agent 1's namespace, which routes to every agent's slice through the overlay), and its
 * AAAA record through agent 1's dispatcher.
 */
function dualStackLines(tasks: MarathonTask[], layout: NetnsLayout): string[] {
  const ns = layout.agentNs(0);
  const out: string[] = [];
  for (const t of tasks) {
    const v4 = t.ipAddresses?.find((a) => a.protocol === 'IPv4')?.ipAddress;
    const v6 = t.ipAddresses?.find((a) => a.protocol === 'IPv6')?.ipAddress;
    if (v4) out.push(`  example    ip netns exec ${ns} curl http://${v4}:${EXAMPLE_CONTAINER_PORT}/   (${t.id}, IPv4)`);
    if (v6) out.push(`  example6   ip netns exec ${ns} curl -g 'http://[${v6}]:${EXAMPLE_CONTAINER_PORT}/'   (${t.id}, IPv6)`);
  }
  const name = `${EXAMPLE_ID.replace(/^\//, '')}.marathon.mesos`;
  out.push(`  names6     ip netns exec ${ns} dig AAAA ${name}   (the tasks' IPv6 addresses, through agent 1's dispatcher; it also listens on ${layout.agentIp6(0)})`);
  out.push(`  ipv6       network dcos is dual-stack (9.0.0.0/8 and ${DUAL_STACK_SUBNET6}); agents have IPv6 addresses ${layout.agentIp6(0)}..`);
  return out;
}

/** Stop what this run started: its agents (by pid), their tasks (their own work dirs), the master, its namespaces. */
async function stopCluster(master: Child | undefined, agents: Child[], agentDirs: string[], layout?: NetnsLayout): Promise<void> {
  await Promise.all(agents.map((a) => terminate(a, 15_000)));
  for (const dir of agentDirs) {
    const pids = killCheckpointedTasks(dir);
    if (pids.length) say(`killed ${pids.length} leftover task process group(s) of ${dir}`);
  }
  if (master) await terminate(master, 10_000);
  if (layout) await layout.destroy();
}

/** SIGTERM the child's process group (it was spawned detached: pgid = its pid), SIGKILL after graceMs. */
async function terminate(c: Child, graceMs: number): Promise<void> {
  const pid = c.proc.pid;
  if (!pid || !running(c)) return;
  const sig = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      /* gone */
    }
  };
  sig('SIGTERM');
  const timer = setTimeout(() => sig('SIGKILL'), graceMs);
  await c.exited;
  clearTimeout(timer);
}

export async function main(argv: string[]): Promise<number> {
  let o: UpOptions;
  try {
    const args = readUpArgs(argv);
    if (args.kind === 'help') {
      process.stdout.write(args.text);
      return 0;
    }
    o = args.options;
  } catch (e) {
    process.stderr.write(`sextant up: ${(e as Error).message}\n(sextant up --help lists the options)\n`);
    return 2;
  }
  const stopping = untilSignal();
  let cluster: UpCluster;
  try {
    cluster = await startCluster(o);
  } catch (e) {
    if (e instanceof PreflightError) process.stderr.write(`sextant up: not starting, nothing was started:\n${e.problems.map((p) => `  ${p}\n`).join('')}`);
    else process.stderr.write(`sextant up: ${(e as Error).message}\n`);
    return 1;
  }
  await stopping;
  say('stopping ...');
  await cluster.stop();
  say('stopped');
  return 0;
}
