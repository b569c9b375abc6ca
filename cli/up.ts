/**
 * `sextant up [--agents 2] [--work-dir DIR] [--no-example] [--netns] [--master-port 5050]
 *  [--marathon-port 8080] [--agent-port 5051] [--ip-base 127.0.0] [--port-base 31000]
 *  [--agent-timeout-ms 15000] [--mesos-dns-port N]`
 *
 * A local cluster in the foreground: a master on <ip-base>.1 and N agents on <ip-base>.2, .3, ...
 * (Linux routes all of 127/8 to lo, so no root is needed), each a child process of this one.
 * Each agent gets its own host port range (port-base + 1000*i ...) because they share one kernel.
 * Deploys an example app unless --no-example, prints where everything is, and on SIGINT/SIGTERM
 * stops everything: deletes the example app, stops agents with --kill-tasks-on-exit, kills what
 * is still checkpointed in the agents' work dirs (e.g. of an agent that was kill -9'd), then the
 * master. With --netns (root) every agent runs in its own network namespace on a bridge
 * (see up-netns.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError } from '../common/errors.js';
import { requestJson } from '../common/http.js';
import { untilSignal } from '../common/daemon.js';
import { killCheckpointedTasks } from '../agent/index.js';
import { NetnsLayout } from './up-netns.js';

export interface UpOptions {
  agents: number;
  workDir: string;
  example: boolean;
  netns: boolean;
  masterPort: number;
  marathonPort: number;
  agentPort: number;
  ipBase: string;
  portBase: number;
  agentTimeoutMs: number;
  mesosDnsPort?: number;
}

const USAGE = `usage: sextant up [--agents 2] [--work-dir DIR] [--no-example] [--netns] [--master-port 5050]
       [--marathon-port 8080] [--agent-port 5051] [--ip-base 127.0.0] [--port-base 31000]
       [--agent-timeout-ms 15000] [--mesos-dns-port N]\n`;

function int(v: string | undefined, flag: string, dflt: number, min = 0, max = 65535): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(flag, `'${v}' must be an integer in [${min}, ${max}]`);
  return n;
}

export function parseUpArgs(argv: string[]): UpOptions {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      agents: { type: 'string' },
      'work-dir': { type: 'string' },
      'no-example': { type: 'boolean' },
      netns: { type: 'boolean' },
      'master-port': { type: 'string' },
      'marathon-port': { type: 'string' },
      'agent-port': { type: 'string' },
      'ip-base': { type: 'string' },
      'port-base': { type: 'string' },
      'agent-timeout-ms': { type: 'string' },
      'mesos-dns-port': { type: 'string' },
    },
  });
  const ipBase = v['ip-base'] ?? '127.0.0';
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ipBase)) throw new ConfigError('--ip-base', `'${ipBase}' must be three octets like 127.0.0`);
  const agents = int(v.agents, '--agents', 2, 1, 200);
  const portBase = int(v['port-base'], '--port-base', 31000, 1024, 65535 - 1000 * agents);
  return {
    agents,
    workDir: v['work-dir'] ?? join(tmpdir(), 'sextant', 'up'),
    example: !v['no-example'],
    netns: v.netns ?? false,
    masterPort: int(v['master-port'], '--master-port', 5050),
    marathonPort: int(v['marathon-port'], '--marathon-port', 8080),
    agentPort: int(v['agent-port'], '--agent-port', 5051),
    ipBase,
    portBase,
    agentTimeoutMs: int(v['agent-timeout-ms'], '--agent-timeout-ms', 15000, 100, 3_600_000),
    mesosDnsPort: int(v['mesos-dns-port'] ?? process.env.SEXTANT_MESOS_DNS_PORT, '--mesos-dns-port', 61053, 1),
  };
}

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
 * full node. SEXTANT_NODE_SERVICES set by the user wins.
 */
function nodeServicesEnv(netns: boolean): Record<string, string> {
  if (process.env.SEXTANT_NODE_SERVICES || netns) return {};
  return { SEXTANT_NODE_SERVICES: 'control' };
}

function startChild(name: string, argv: string[], logDir: string, wrap?: (cmd: string, args: string[]) => [string, string[]], env: Record<string, string> = {}): Child {
  const [cmd, args] = wrap ? wrap(process.execPath, [sextantEntry(), ...argv]) : [process.execPath, [sextantEntry(), ...argv]];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
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
      say(`${name}: exited (${sig ?? `code ${code}`})`);
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

const EXAMPLE_ID = '/hello';

function exampleApp(): Record<string, unknown> {
  const js = `require("http").createServer((q,r)=>r.end("hello from "+process.env.MESOS_TASK_ID+"\\n")).listen(+process.env.PORT0,process.env.HOST)`;
  return {
    id: EXAMPLE_ID,
    cmd: `exec '${process.execPath}' -e '${js}'`,
    instances: 2,
    cpus: 0.1,
    mem: 64,
    portDefinitions: [{ port: 0, protocol: 'tcp', name: 'http', labels: { VIP_0: '/hello:80' } }],
    healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, intervalSeconds: 2, timeoutSeconds: 2, gracePeriodSeconds: 10, maxConsecutiveFailures: 3 }],
  };
}

interface MarathonTask {
  id: string;
  host: string;
  ports: number[];
  state?: string;
}

async function deployExample(marathon: string): Promise<MarathonTask[]> {
  const res = await requestJson(`${marathon}/v2/apps`, { body: exampleApp() });
  if (res.status !== 201 && res.status !== 409) throw new Error(`POST /v2/apps answered ${res.status}: ${JSON.stringify(res.body)}`);
  const end = Date.now() + 60_000;
  let last = -1;
  for (;;) {
    const r = await requestJson(`${marathon}/v2/apps${EXAMPLE_ID}/tasks`).catch(() => undefined);
    const tasks = ((r?.body as { tasks?: MarathonTask[] })?.tasks ?? []).filter((t) => (t.state ?? 'TASK_RUNNING') === 'TASK_RUNNING');
    if (tasks.length !== last) process.stdout.write(`${tasks.length}/2 running `);
    last = tasks.length;
    if (tasks.length >= 2) return tasks;
    if (Date.now() > end) throw new Error('example app not running after 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface UpCluster {
  masterUrl: string;
  marathonUrl: string;
  masterPid: number;
  agentPids: number[];
  stop(): Promise<void>;
}

export async function startCluster(o: UpOptions): Promise<UpCluster> {
  const logDir = join(o.workDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  if (!existsSync(sextantEntry())) throw new Error(`${sextantEntry()} is missing: build first (npm run build)`);
  const layout = o.netns ? new NetnsLayout(o.agents) : undefined;
  const masterIp = layout ? layout.masterIp : `${o.ipBase}.1`;
  const agentIp = (i: number) => (layout ? layout.agentIp(i) : `${o.ipBase}.${i + 2}`);
  const agents: Child[] = [];
  const agentDirs: string[] = [];
  let master: Child | undefined;
  const stop = async () => {
    await stopCluster(master, agents, agentDirs, o.example ? `http://${layout ? '127.0.0.1' : masterIp}:${o.marathonPort}` : undefined, layout);
  };
  try {
    if (layout) await step(`creating ${o.agents} network namespaces (${layout.prefix}*) and a bridge`, () => layout.create());
    master = await step(`starting master on ${masterIp}:${o.masterPort}`, async () => {
      const c = startChild('master', ['master', '--ip', masterIp, '--port', String(o.masterPort), '--marathon-port', String(o.marathonPort), '--work-dir', join(o.workDir, 'master'), '--agent-timeout-ms', String(o.agentTimeoutMs)], logDir, layout?.wrapMaster(), { SEXTANT_MESOS_DNS_PORT: String(o.mesosDnsPort) });
      await waitLine(c, /sextant master listening/, 30_000);
      return c;
    });
    say(`master: pid ${master.proc.pid} http://${masterIp}:${o.masterPort}`);
    if (layout) await step(`forwarding 127.0.0.1:${o.masterPort} and :${o.marathonPort} to the master in ${layout.hubName}`, () => layout.expose([o.masterPort, o.marathonPort]));
    for (let i = 0; i < o.agents; i++) {
      const ip = agentIp(i);
      const dir = join(o.workDir, `agent-${i + 1}`);
      agentDirs.push(dir);
      const ports = `ports:[${o.portBase + 1000 * i}-${o.portBase + 1000 * i + 999}]`;
      const c = await step(`starting agent ${i + 1} on ${ip}:${o.agentPort}`, async () => {
        const a = startChild(`agent-${i + 1}`, ['agent', '--master', `${masterIp}:${o.masterPort}`, '--ip', ip, '--port', String(o.agentPort), '--hostname', ip, '--work-dir', dir, '--resources', `cpus:4;mem:4096;disk:10000;${ports}`, '--kill-tasks-on-exit'], logDir, layout?.wrapAgent(i), nodeServicesEnv(layout !== undefined));
        const m = await waitLine(a, /sextant agent (\S+) registered/, 30_000);
        return { a, id: m[1] };
      });
      agents.push(c.a);
      say(`agent ${i + 1}: pid ${c.a.proc.pid} http://${ip}:${o.agentPort} id ${c.id} work dir ${dir}`);
    }
    const apiIp = layout ? '127.0.0.1' : masterIp;
    const masterUrl = `http://${apiIp}:${o.masterPort}`;
    const marathonUrl = `http://${apiIp}:${o.marathonPort}`;
    let tasks: MarathonTask[] = [];
    if (o.example) tasks = await step(`deploying example app ${EXAMPLE_ID} (2 instances)`, () => deployExample(marathonUrl));
    printSummary(o, masterUrl, marathonUrl, tasks, layout);
    return { masterUrl, marathonUrl, masterPid: master.proc.pid!, agentPids: agents.map((a) => a.proc.pid!), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function printSummary(o: UpOptions, masterUrl: string, marathonUrl: string, tasks: MarathonTask[], layout?: NetnsLayout): void {
  say('');
  say(`Sextant is up (logs and state in ${o.workDir})`);
  say(`  master     ${masterUrl}/master/state`);
  say(`  marathon   ${marathonUrl}/v2/apps`);
  const via = layout ? `ip netns exec ${layout.hubName} ` : '';
  for (const t of tasks) say(`  example    ${via}curl http://${t.host}:${t.ports[0]}/   (${t.id})`);
  say(`  resolve    ${via}dig @${layout?.masterIp ?? `${o.ipBase}.1`} -p ${o.mesosDnsPort} ${EXAMPLE_ID.replace(/^\//, '')}.marathon.mesos   (Mesos-DNS on the master)`);
  if (layout && tasks.length) {
    const name = `${EXAMPLE_ID.replace(/^\//, '')}.marathon.l4lb.thisdcos.directory`;
    say(`  vip        ip netns exec ${layout.agentNs(0)} sh -c 'curl http://$(dig +short @${layout.agentIp(0)} ${name})/'   (the app's VIP, balanced in agent 1's kernel)`);
  }
  if (layout) say(`  netns      agents run in ${layout.describe()}; reach them with \`ip netns exec ${layout.hubName} curl ...\``);
  say('Ctrl-C stops everything (apps, agents, master).');
  say('sextant up: ready');
}

async function stopCluster(master: Child | undefined, agents: Child[], agentDirs: string[], marathon: string | undefined, layout?: NetnsLayout): Promise<void> {
  if (marathon) await requestJson(`${marathon}/v2/apps${EXAMPLE_ID}?force=true`, { method: 'DELETE', timeoutMs: 3000 }).catch(() => undefined);
  await Promise.all(agents.map((a) => terminate(a, 15_000)));
  for (const dir of agentDirs) {
    const pids = killCheckpointedTasks(dir);
    if (pids.length) say(`killed ${pids.length} leftover task process group(s) of ${dir}`);
  }
  if (master) await terminate(master, 10_000);
  if (layout) await layout.destroy();
}

async function terminate(c: Child, graceMs: number): Promise<void> {
  const pid = c.proc.pid;
  if (!pid || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
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
    o = parseUpArgs(argv);
  } catch (e) {
    process.stderr.write(`sextant up: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const stopping = untilSignal();
  let cluster: UpCluster;
  try {
    cluster = await startCluster(o);
  } catch (e) {
    process.stderr.write(`sextant up: ${(e as Error).message}\n`);
    return 1;
  }
  await stopping;
  say('stopping ...');
  await cluster.stop();
  say('stopped');
  return 0;
}
