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
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureCa } from '../common/pki.js';
import { untilSignal } from '../common/daemon.js';
import { killCheckpointedTasks } from '../agent/index.js';
import { NetnsLayout } from './up-netns.js';
import { agentIpOf, masterIpOf, readUpArgs, type UpOptions } from './up-args.js';
import { masterIdOf, startHaMasters, type HaMasters } from './up-masters.js';
import { preflight } from './up-preflight.js';
import { acquireLock, LOCK_FILE, selfRef } from './up-lock.js';
import { StatusFile } from './up-status.js';
import { waitApplied, type Applied, type StartedAgent } from './up-applied.js';
import { deleteOwnedExample, deployExample, EXAMPLE_CONTAINER_PORT, EXAMPLE_ID, type MarathonTask, type OwnedApp } from './up-example.js';
import { nextSteps } from './up-next.js';
import { adminCredentials, adminToken, superuserArgs, type AdminCredentials } from './up-admin.js';
import { prepareUpTls, useUpTls } from './up-tls.js';

import { running, say, sextantEntry, startChild, terminate, waitLine, type Child } from './up-child.js';

export { parseUpArgs, type UpOptions } from './up-args.js';
export { sextantEntry } from './up-child.js';

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
  const layout = o.netns ? new NetnsLayout(o.agents, o.ipv6 ?? false, o.masters) : undefined;
  const masterIp = layout ? layout.masterIp : masterIpOf(o, 0);
  const apiIp = layout ? '127.0.0.1' : masterIp;
  const scheme = o.insecureDev ? 'http' : 'https';
  let masterUrl = `${scheme}://${apiIp}:${o.masterPort}`;
  let marathonUrl = `${scheme}://${apiIp}:${o.marathonPort}`;
  const agentIp = (i: number) => (layout ? layout.agentIp(i) : agentIpOf(o, i));
  const entryUrl = o.adminPort ? `https://${apiIp}:${o.adminPort}` : undefined;
  const status = new StatusFile(o.statusFile, { state: 'up', ...selfRef(), workDir: o.workDir, masters: [], agents: [] });
  status.removeStale();
  // The first superuser; with --masters every master gets the flags and whichever leads first
  // creates it in the shared ZooKeeper store (only while the store holds no account).
  const admin = o.masterServices.includes('acs') ? adminCredentials(o.workDir) : undefined;
  const agents: Child[] = [];
  const agentDirs: string[] = [];
  const started: StartedAgent[] = [];
  let master: Child | undefined;
  let ha: HaMasters | undefined;
  let owned: OwnedApp | undefined;
  const masterChildren = () => (ha ? ha.masters.map((m) => m.child) : master ? [master] : []);
  const stop = async () => {
    status.update((s) => void (s.state = 'stopping'));
    // With several masters the app is deleted through whichever leads now (it may not be the one that created it).
    const lead = ha?.leader();
    if (owned && lead) owned = { ...owned, marathon: lead.marathon };
    const guard = {
      masterAlive: () => (ha ? !!lead && running(lead.child) : running(master)),
      ourPids: () => [process.pid, ...masterChildren().flatMap((c) => (c.proc.pid ? [c.proc.pid] : [])), ...(layout?.proxyPid ? [layout.proxyPid] : [])],
    };
    await deleteOwnedExample(owned, guard, say);
    await stopCluster(master, agents, agentDirs);
    // The masters before the namespaces: destroy() SIGKILLs what is left in them, which their supervisor would restart.
    await ha?.stop();
    await layout?.destroy();
    status.update((s) => void (s.state = 'stopped'));
  };
  const stopAndRelease = async () => {
    await stop();
    release();
  };
  try {
    if (layout) await step(`creating ${o.agents} network namespaces (${layout.prefix}*) and a bridge`, () => layout.create());
    const ca = o.adminPort ? await step(`making the cluster CA in ${join(o.workDir, 'pki')}`, () => ensureCa(join(o.workDir, 'pki'))) : undefined;
    const ha1 = o.masters === 1;
    const tls = o.insecureDev
      ? undefined
      : await step(`issuing the ${ha1 ? "master's" : 'cluster CA'} and the operator's certificates and a bootstrap token in ${join(o.workDir, 'pki')}`, () => prepareUpTls(o.workDir, ha1 ? { ip: masterIp, ips: layout ? ['127.0.0.1'] : [] } : undefined));
    if (tls) {
      useUpTls(tls);
      status.update((s) => Object.assign(s, { ca: tls.ca.cert, cli_cert: tls.cli.cert, cli_key: tls.cli.key }));
    }
    const masterTlsArgs = tls ? ['--tls-dir', tls.masterDir!, '--bootstrap-token-file', tls.tokenFile] : ['--insecure-dev'];
    const agentTlsArgs = tls ? ['--tls-ca', tls.ca.cert, '--bootstrap-token-file', tls.tokenFile] : ['--insecure-dev'];
    const masterEnv = { SEXTANT_MESOS_DNS_PORT: String(o.mesosDnsPort), ...(o.ipv6 ? { SEXTANT_OVERLAY_SUBNET6: DUAL_STACK_SUBNET6 } : {}) };
    if (o.masters > 1) {
      const net = layout && { ip: (k: number) => layout.haMasterIp(k), inMaster: (k: number, argv: string[]) => layout.inMaster(k, argv), wrap: (k: number) => layout.wrapHaMaster(k), forward: (l: { host: string; port: number; target: string }[]) => layout.forward(l) };
      ha = await startHaMasters(o, logDir, status, step, masterEnv, admin ? superuserArgs(admin) : [], net, { ...(tls ? { tls } : {}), ...(ca ? { entryCa: ca } : {}) });
      const lead = await step('waiting for a leader', () => ha!.waitLeader(60_000));
      masterUrl = lead.mesos;
      marathonUrl = lead.marathon;
      if (ca && lead.entry) status.update((s) => Object.assign(s, { entry: lead.entry, ca: ca.cert }));
      if (admin) {
        const token = await step(`logging in as ${admin.uid} at the leader`, () => adminToken(masterUrl, admin)).catch((e: Error) => void say(`  (no token in the status file: ${e.message})`));
        if (token) status.update((s) => void (s.token = token));
      }
    } else {
      master = await step(`starting master on ${masterIp}:${o.masterPort}`, async () => {
        const adminArgs = ca ? ['--admin-port', String(o.adminPort), '--ca-dir', join(o.workDir, 'pki')] : [];
        const argv = ['master', '--ip', masterIp, '--port', String(o.masterPort), '--marathon-port', String(o.marathonPort), '--work-dir', join(o.workDir, 'master'), '--agent-timeout-ms', String(o.agentTimeoutMs), ...masterTlsArgs, ...adminArgs, ...(admin ? superuserArgs(admin) : [])];
        const c = startChild('master', argv, logDir, (how) => status.update((s) => s.masters.forEach((m) => Object.assign(m, { state: 'exited', exit: how }))), layout?.wrapMaster(), masterEnv);
        await waitLine(c, /sextant master listening/, 30_000);
        return c;
      });
      say(`master: pid ${master.proc.pid} ${scheme}://${masterIp}:${o.masterPort}`);
      if (layout) await step(`forwarding 127.0.0.1:${o.masterPort} and :${o.marathonPort} to the master in ${layout.hubName}`, () => layout.expose([o.masterPort, o.marathonPort, ...(o.adminPort ? [o.adminPort] : [])]));
      const masterId = await masterIdOf(masterUrl);
      if (entryUrl && ca) status.update((s) => Object.assign(s, { entry: entryUrl, ca: ca.cert }));
      status.update((s) => s.masters.push({ id: masterId, mesos: masterUrl, marathon: marathonUrl, pid: master!.proc.pid!, leader: true, state: running(master) ? 'running' : 'exited' }));
      if (admin) {
        // Not fatal: the cluster works without it; the status file then has no token.
        const token = await step(`logging in as ${admin.uid}`, () => adminToken(masterUrl, admin)).catch((e: Error) => void say(`  (no token in the status file: ${e.message})`));
        if (token) status.update((s) => void (s.token = token));
      }
    }
    const agentMaster = ha ? ha.electionZk : `${masterIp}:${o.masterPort}`;
    for (let i = 0; i < o.agents; i++) {
      const ip = agentIp(i);
      const dir = join(o.workDir, `agent-${i + 1}`);
      const ports = `ports:[${o.portBase + 1000 * i}-${o.portBase + 1000 * i + 999}]`;
      const argv = ['agent', '--master', agentMaster, '--ip', ip, '--port', String(o.agentPort), '--hostname', ip, '--work-dir', dir, '--resources', `cpus:4;mem:4096;disk:10000;${ports}`, '--kill-tasks-on-exit', ...agentTlsArgs, ...(layout?.ipv6 ? ['--ip6', layout.agentIp6(i)] : [])];
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
      say(`agent ${i + 1}: pid ${c.a.proc.pid} ${scheme}://${ip}:${o.agentPort} id ${c.id} work dir ${dir}`);
      started.push({ n: i + 1, id: c.id });
      status.update((s) => s.agents.push({ id: c.id, ip, api: `${scheme}://${ip}:${o.agentPort}`, pid: c.a.proc.pid!, netns: layout ? layout.agentNs(i) : null, state: running(c.a) ? 'running' : 'exited' }));
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
    if (ha) masterUrl = (await ha.waitLeader(30_000)).mesos;
    const applied = await waitApplied(masterUrl, started, APPLIED_TIMEOUT_MS);
    // The file first: a script that sees "ready" may read it at once.
    status.publish();
    const entry = ha ? ha.leader()?.entry ?? ha.masters[0]!.entry : entryUrl;
    printSummary(o, masterUrl, marathonUrl, tasks, applied, layout, entry && ca ? { url: entry, ca: ca.cert } : undefined, ha, admin, tls ? { ca: tls.ca.cert, cert: tls.cli.cert, key: tls.cli.key } : undefined);
    const first = masterChildren()[0]!;
    return { masterUrl, marathonUrl, masterPid: (ha?.leader()?.child ?? first).proc.pid!, agentPids: agents.map((a) => a.proc.pid!), stop: stopAndRelease };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** How long `up` waits for every agent to apply the control plane's current version before it says which did not. */
const APPLIED_TIMEOUT_MS = 30_000;

/** The services the agents run (what nodeServicesEnv gives them; plugins.ts's default otherwise). */
function agentServices(netns: boolean): string {
  return nodeServicesEnv(netns).SEXTANT_NODE_SERVICES ?? process.env.SEXTANT_NODE_SERVICES ?? 'l4lb,overlay,cni,dispatcher,control';
}

function printSummary(o: UpOptions, masterUrl: string, marathonUrl: string, tasks: MarathonTask[], applied: Applied, layout?: NetnsLayout, entry?: { url: string; ca: string }, ha?: HaMasters, admin?: AdminCredentials, tlsFiles?: { ca: string; cert: string; key: string }): void {
  say('');
  say(`Sextant is up (logs and state in ${o.workDir})`);
  if (ha) {
    const lead = ha.leader();
    for (const m of ha.masters) say(`  master ${m.n}   ${m.mesos}/master/state   ${m.marathon}/v2/apps${m.entry ? `   entry ${m.entry}` : ''}${m === lead ? '   (leader)' : ''}`);
    say(`  zookeeper  ${ha.ensemble.connect}   (store ${ha.zk}, election ${ha.electionZk})`);
    say(`             the store needs the credential in ${ha.zkAuthFile} (digest ACL, mode 0600); the election is world-readable`);
    say(`  leader     master ${lead?.n ?? '?'}: any master answers (followers redirect or proxy to the leader)`);
  } else {
    say(`  master     ${masterUrl}/master/state`);
    say(`  marathon   ${marathonUrl}/v2/apps`);
  }
  if (entry) say(`  entry      curl --cacert ${entry.ca} -H "Authorization: token=$TOKEN" ${entry.url}/marathon/v2/apps   (HTTPS entry point: /mesos/, /marathon/, /mesos_dns/, /net/, /service/<app>/${ha ? '; one on every master, each reaches the leader' : ''})`);
  const via = layout ? `ip netns exec ${layout.hubName} ` : '';
  if (layout?.ipv6) for (const line of dualStackLines(tasks, layout)) say(line);
  else for (const t of tasks) say(`  example    ${via}curl http://${t.host}:${t.ports[0]}/   (${t.id})`);
  say(`  resolve    ${via}dig @${ha?.leader()?.ip ?? layout?.masterIp ?? masterIpOf(o, 0)} -p ${o.mesosDnsPort} ${EXAMPLE_ID.replace(/^\//, '')}.marathon.mesos   (Mesos-DNS on the master)`);
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
  if (admin) {
    say(`  login      sextant auth login --master ${masterUrl.replace(/^http:\/\//, '')} --username ${admin.uid}   (superuser)`);
    say(`             password ${admin.fresh ? `${admin.password} (shown once; also` : '(in'} ${admin.file}, mode 0600)`);
  }
  if (o.statusFile) say(`  status     ${o.statusFile}${admin ? ' (mode 0600: it holds a superuser token)' : ''}`);
  say('Next, from another shell:');
  for (const line of nextSteps({ entry: sextantEntry(), masterUrl, marathonUrl, ...(tasks.length ? { exampleId: EXAMPLE_ID, exampleTask: tasks[0]!.id } : {}), netns: layout !== undefined, ...(tlsFiles ? { tls: tlsFiles } : {}) })) say(line);
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
  const vipName = `${EXAMPLE_ID.replace(/^\//, '')}.marathon.l4lb.thisdcos.directory`;
  out.push(`  vip6       ip netns exec ${ns} sh -c 'curl -g "http://[$(dig +short AAAA @${layout.agentIp6(0)} ${vipName})]/"'   (the app's VIP over IPv6: its name has an AAAA from fd01:c::/64)`);
  out.push(`  names6     ip netns exec ${ns} dig AAAA ${name}   (the tasks' IPv6 addresses, through agent 1's dispatcher; it also listens on ${layout.agentIp6(0)})`);
  out.push(`  ipv6       network dcos is dual-stack (9.0.0.0/8 and ${DUAL_STACK_SUBNET6}); agents have IPv6 addresses ${layout.agentIp6(0)}..`);
  return out;
}

/** Stop what this run started: its agents (by pid), their tasks (their own work dirs), the master (one). */
async function stopCluster(master: Child | undefined, agents: Child[], agentDirs: string[]): Promise<void> {
  await Promise.all(agents.map((a) => terminate(a, 15_000)));
  for (const dir of agentDirs) {
    const pids = killCheckpointedTasks(dir);
    if (pids.length) say(`killed ${pids.length} leftover task process group(s) of ${dir}`);
  }
  if (master) await terminate(master, 10_000);
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
