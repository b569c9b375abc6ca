/**
 * `sextant agent --master HOST:PORT[,...]|zk://H1:2181,.../mesos --ip IP [--ip6 IP6] [--port 5051] [--work-dir DIR] [--resources R]
 *  [--attributes A] [--hostname H] [--kill-tasks-on-exit] (--tls-dir DIR | --tls-ca FILE) [--bootstrap-token-file F] | --insecure-dev`
 *
 * Mutual TLS by default: `--tls-dir DIR` (its ca.crt) or `--tls-ca FILE` is the cluster CA; the
 * agent's own key and certificate live in `<work-dir>/tls/` and come from the master's TLS bootstrap
 * (`--bootstrap-token-file`, or $SEXTANT_BOOTSTRAP_TOKEN, for the first registration). Without them
 * it refuses to start, unless `--insecure-dev` (plain HTTP, logged loudly).
 *
 * Prints `sextant agent <id> registered with master <host:port>` once registered, then starts the
 * services the composition root gives it (cli/plugins.ts), one after another. On SIGINT/SIGTERM
 * the agent stops but leaves its tasks running, so a restart on the same work dir adopts them
 * (Mesos checkpointing); `--kill-tasks-on-exit` (what `sextant up` uses) kills them first.
 * With `--master zk://...` (as a Mesos agent) it follows the elected master through the masters'
 * election znodes under the URL's path (leader.ts): it registers with the leader, re-registers with
 * each new one (reporting its running tasks), and its control-plane client moves to the new leader.
 */
import { limitYoungGeneration } from './heap.js';
import { capMallocArenas, startMallocTrim } from './malloc.js';
import { releaseConfig, startMemoryRelease, type ReleaseConfig } from './release.js';
import { realpathSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { hostname as osHostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentHandle, NetworkAttacher, ServiceBuilders } from '../contracts/index.js';
import type { Component } from '../common/daemon.js';
import { untilSignal } from '../common/daemon.js';
import { ConfigError } from '../common/errors.js';
import { readBootstrapToken, readPem, TLS_FLAGS_HINT, tlsPathsFromFlags } from '../common/tls-files.js';
import type { AgentTlsOptions } from './agent-tls.js';
import { createLogger } from '../common/log.js';
import { collectProcessMetrics } from '../common/metrics.js';
import { Agent } from './agent.js';
import { DEFAULT_RESOURCES, parseAttributes, parseResources } from './resources.js';
import { checkZkMaster, followLeader, isZkMaster, type LeaderFollower } from './leader.js';

const USAGE = `usage: sextant agent --master HOST:PORT[,HOST:PORT...]|zk://HOST:PORT,.../mesos --ip IP [--ip6 IP6] [--port 5051] [--work-dir DIR]
       [--resources 'cpus:4;mem:4096;disk:10000;ports:[31000-32000]'] [--attributes 'rack:a;zone:1']
       [--hostname H] [--kill-tasks-on-exit]
       (--tls-dir DIR | --tls-ca FILE) [--bootstrap-token-file FILE] | --insecure-dev

Runs an agent (task runner and the node services of SEXTANT_NODE_SERVICES) until SIGINT/SIGTERM.
--ip6: the node's IPv6 address on a dual-stack node (the dispatcher listens there too; the overlay
routes tasks' IPv6 traffic to it).
Mutual TLS: --tls-dir DIR (DIR/ca.crt) or --tls-ca FILE is the cluster CA; the agent makes its key in
WORK_DIR/tls and gets its certificate from the master at its first registration, which needs the
bootstrap token (--bootstrap-token-file FILE or $SEXTANT_BOOTSTRAP_TOKEN). --insecure-dev: plain HTTP
without certificates (development and tests only).\n`;

export interface AgentCliOptions {
  masters: string[];
  /** `--master zk://...`: the masters' election path; `masters` is empty then. */
  zk?: string;
  ip: string;
  ip6?: string;
  port: number;
  workDir: string;
  resources: ReturnType<typeof parseResources>;
  attributes: Record<string, string>;
  hostname?: string;
  killTasksOnExit: boolean;
  /** Mutual TLS (absent: --insecure-dev). */
  tls?: AgentTlsOptions;
}

export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentCliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      master: { type: 'string' },
      ip: { type: 'string' },
      ip6: { type: 'string' },
      port: { type: 'string' },
      'work-dir': { type: 'string' },
      resources: { type: 'string' },
      attributes: { type: 'string' },
      hostname: { type: 'string' },
      'kill-tasks-on-exit': { type: 'boolean' },
      'tls-dir': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'bootstrap-token-file': { type: 'string' },
      'insecure-dev': { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.master) throw new ConfigError('--master', 'is required (HOST:PORT of the master, or zk://HOST:PORT,.../mesos)');
  const zk = isZkMaster(values.master) ? values.master : undefined;
  if (zk) checkZkMaster(zk);
  const masters = zk ? [] : values.master.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of masters) if (!/^[^:\s]+:\d+$/.test(m)) throw new ConfigError('--master', `'${m}' is not HOST:PORT (nor a zk:// URL)`);
  const ip = values.ip ?? '127.0.0.1';
  if (/^0+(\.0+){3}$/.test(ip) || /^[0:]+$/.test(ip)) throw new ConfigError('--ip', `'${ip}' listens on every interface: give the node's internal address (or a loopback one)`);
  const ip6 = values.ip6;
  if (ip6 !== undefined && !isIPv6(ip6)) throw new ConfigError('--ip6', `'${ip6}' is not an IPv6 address`);
  const port = values.port === undefined ? 5051 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('--port', `'${values.port}' is not a port`);
  if (values['tls-cert'] !== undefined || values['tls-key'] !== undefined) throw new ConfigError(values['tls-cert'] !== undefined ? '--tls-cert' : '--tls-key', 'is not for agents: an agent gets its certificate from the master (TLS bootstrap); give --tls-dir or --tls-ca');
  const tlsPaths = tlsPathsFromFlags(values, true);
  if (tlsPaths && values['insecure-dev']) throw new ConfigError('--insecure-dev', 'is given with --tls-dir/--tls-ca: use one or the other');
  if (!tlsPaths && !values['insecure-dev']) throw new ConfigError('--tls-dir', `an agent needs the cluster CA: ${TLS_FLAGS_HINT}`);
  const token = readBootstrapToken(values['bootstrap-token-file'], env.SEXTANT_BOOTSTRAP_TOKEN);
  if (token !== undefined && !tlsPaths && values['bootstrap-token-file'] !== undefined) throw new ConfigError('--bootstrap-token-file', 'needs --tls-dir or --tls-ca (there is no bootstrap without TLS)');
  const tls: AgentTlsOptions | undefined = tlsPaths ? { ca: readPem(tlsPaths.ca, values['tls-dir'] !== undefined ? '--tls-dir' : '--tls-ca'), ...(token ? { bootstrapToken: token } : {}) } : undefined;
  return {
    masters,
    ...(zk ? { zk } : {}),
    ip,
    ...(ip6 ? { ip6 } : {}),
    port,
    workDir: values['work-dir'] ?? join(tmpdir(), 'sextant', `agent-${ip}-${port}`),
    resources: values.resources ? parseResources(values.resources, DEFAULT_RESOURCES) : DEFAULT_RESOURCES,
    attributes: values.attributes ? parseAttributes(values.attributes) : {},
    hostname: values.hostname,
    killTasksOnExit: values['kill-tasks-on-exit'] ?? false,
    ...(tls ? { tls } : {}),
  };
}

/** Whether this process is the `sextant agent` command (not a test or bench calling `main` in its own process). */
function isAgentCommand(): boolean {
  try {
    return process.argv[2] === 'agent' && /[\\/]cli[\\/]sextant\.js$/.test(realpathSync(process.argv[1] ?? ''));
  } catch {
    return false;
  }
}

export async function main(argv: string[], services: ServiceBuilders<AgentHandle> = () => []): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  // Before any VIP is programmed: one malloc arena for every thread (the `sextant agent` command
  // re-executes itself once for it, before anything else: agent/malloc.ts), the young
  // generation stays small (agent/heap.ts), the free memory malloc holds goes back to the kernel
  // every 10 s (agent/malloc.ts); V8's idle memory goes back once the agent is quiet after a burst
  // (agent/release.ts, started once the agent's metrics registry exists).
  capMallocArenas(process.env, { exec: isAgentCommand() });
  limitYoungGeneration();
  startMallocTrim();
  let o: AgentCliOptions;
  let release: ReleaseConfig;
  try {
    o = parseAgentArgs(argv);
    release = releaseConfig();
  } catch (e) {
    process.stderr.write(`sextant agent: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const log = createLogger('agent', { ip: o.ip });
  const mastersListeners = new Set<(m: string[]) => void>();
  let agentRef: Agent | undefined;
  const follower: LeaderFollower | undefined = o.zk
    ? await followLeader(o.zk, log.child({ role: 'leader-detector' }), (leader) => {
        if (!leader) return; // no leader: everything stays as it is until one is elected
        agentRef?.leaderChanged();
        for (const fn of mastersListeners) fn([leader]);
      })
    : undefined;
  const agent = new Agent({ masters: o.masters, ...(follower ? { leader: () => follower.current() } : {}), ip: o.ip, ...(o.ip6 ? { ip6: o.ip6 } : {}), port: o.port, workDir: o.workDir, resources: o.resources, attributes: o.attributes, hostname: o.hostname, log, ...(o.tls ? { tls: o.tls } : {}) });
  agentRef = agent;
  collectProcessMetrics(agent.registry);
  const memory = startMemoryRelease({ config: release, registry: agent.registry, log: log.child({ role: 'memory' }) });
  await agent.start();
  const stopping = untilSignal();
  const id = await Promise.race([agent.registered(), stopping.then(() => undefined)]);
  const plugins: Component[] = [];
  if (id) {
    process.stdout.write(`sextant agent ${id} registered with master ${agent.master} (api ${o.tls ? 'https' : 'http'}://${o.ip}:${agent.port})\n`);
    const masters = follower ? [agent.master!] : o.masters;
    const base: AgentHandle = {
      agentId: id, ip: o.ip, ...(agent.tls ? { tls: agent.tls } : {}), hostname: o.hostname ?? osHostname(), ...(o.ip6 ? { ip6: o.ip6 } : {}), workDir: o.workDir, masters, registry: agent.registry, routes: (r) => agent.routes(r),
      ...(follower ? { onMastersChange: (fn: (m: string[]) => void) => (mastersListeners.add(fn), () => void mastersListeners.delete(fn)) } : {}),
    };
    // setNetworkAttacher: lets a plugin (CNI) give the agent its NetworkAttacher (see README).
    // setNameservers: the dispatcher plugin points tasks' resolv.conf at its addresses.
    const handle = Object.assign(base, {
      setNetworkAttacher: (a: NetworkAttacher | undefined) => agent.setNetworkAttacher(a),
      setNameservers: (ns: string[]) => agent.setNameservers(ns),
      applyingUpdate: () => memory.applyingUpdate(),
    });
    for (const build of services(handle)) {
      const c = await build();
      if (!c) continue;
      await c.start();
      plugins.push(c);
    }
    await stopping;
  }
  log.info('agent_stopping', { kill_tasks: o.killTasksOnExit });
  // Tasks first, while the plugins still run: ending a task on a virtual network needs the CNI
  // attacher (DEL, namespace removal).
  if (o.killTasksOnExit) await agent.killAllTasks(undefined, 10000);
  for (const c of plugins.reverse()) await c.stop().catch((e) => log.warn('plugin_stop_failed', { name: c.name, err: e }));
  memory.stop();
  await agent.stop();
  await follower?.stop();
  return 0;
}
