/**
 * `sextant up` options, parsed with commander (which also writes `--help`). Ports the master's
 * plugins bind come from the environment the children inherit (SEXTANT_CONTROL_PORT,
 * SEXTANT_MESOS_DNS_HTTP_PORT, SEXTANT_MASTER_SERVICES), so the pre-flight checks the same ones.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../common/errors.js';

export interface UpOptions {
  agents: number;
  /** 1: one master with its file store (today's `up`); 3 or 5: that many masters over a ZooKeeper ensemble of the same size. */
  masters: number;
  /** ZooKeeper client, peer and leader-election ports on each master's address (with --masters 3|5). */
  zkPorts: { client: number; peer: number; election: number };
  workDir: string;
  example: boolean;
  netns: boolean;
  /** --ipv6 (with --netns): network dcos dual-stack, agents with IPv6 addresses, the example app on dcos. */
  ipv6?: boolean;
  masterPort: number;
  marathonPort: number;
  agentPort: number;
  ipBase: string;
  portBase: number;
  agentTimeoutMs: number;
  mesosDnsPort: number;
  /** The HTTPS entry point on the master (admin/); 0: none. */
  adminPort: number;
  /** From the environment the master inherits (see cli/plugins.ts). */
  mesosDnsHttpPort: number;
  controlPort: number;
  masterServices: string[];
  /** Where to keep a JSON description of the running cluster (up-status.ts). */
  statusFile?: string;
  /** --insecure-dev: plain HTTP between the components; otherwise mutual TLS (up-tls.ts), with one master or several. */
  insecureDev: boolean;
}

export type UpArgs = { kind: 'run'; options: UpOptions } | { kind: 'help'; text: string };

/** An integer option parser; a bad value is a ConfigError naming the flag (commander passes it through). */
function intIn(flag: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(flag, `'${v}' must be an integer in [${min}, ${max}]`);
    return n;
  };
}

const port = (flag: string) => intIn(flag, 1, 65535);

function upCommand(out: { text: string }): Command {
  return new Command('up')
    .name('sextant up')
    .description(
      'Start a local cluster in the foreground: a master on <ip-base>.1, agents on <ip-base>.2, .3, ... and an example app.\n' +
        'Checks first that every address it will bind is free (and names who holds one that is not); Ctrl-C stops what it started.',
    )
    .option('--agents <n>', 'number of agents', intIn('--agents', 1, 200), 2)
    .option('--masters <n>', 'number of masters: 1 (a file store), or 3 or 5 over a ZooKeeper ensemble of that size (one server per master, Debian\'s zookeeper); masters on <ip-base>.1 .. .n, agents after them', intIn('--masters', 1, 5), 1)
    .option('--zk-port <port>', 'ZooKeeper client port on each master address (with --masters 3|5); peer and election ports are this + 707 and + 1707 (2181: 2888, 3888)', port('--zk-port'), 2181)
    .option('--work-dir <dir>', 'logs and state of the master and agents', join(tmpdir(), 'sextant', 'up'))
    .option('--no-example', 'do not deploy the example app /hello')
    .option('--netns', 'run each agent in its own network namespace (root); with --masters 3|5 each master and its ZooKeeper server too, reachable from the host on <ip-base>.1 .. .n')
    .option('--ipv6', 'dual-stack (with --netns): network dcos gets IPv6 fd01:b::/64, agents IPv6 addresses, and the example app runs on dcos with an IPv4 and an IPv6 address')
    .option('--master-port <port>', 'master Mesos API port', port('--master-port'), 5050)
    .option('--marathon-port <port>', 'Marathon API port', port('--marathon-port'), 8080)
    .option('--agent-port <port>', 'agent API port (on each agent address)', port('--agent-port'), 5051)
    .option('--ip-base <a.b.c>', 'first three octets of the loopback addresses', '127.0.0')
    .option('--port-base <port>', 'first task port of agent 1 (agent i gets 1000 ports from port-base + 1000*(i-1))', intIn('--port-base', 1024, 65535), 31000)
    .option('--agent-timeout-ms <ms>', 'master marks an agent gone after this silence', intIn('--agent-timeout-ms', 100, 3_600_000), 15000)
    .option('--mesos-dns-port <port>', 'Mesos-DNS DNS port on the master (default: $SEXTANT_MESOS_DNS_PORT or 61053)', port('--mesos-dns-port'))
    .option('--admin-port <port>', 'HTTPS entry point on the master, on every master with --masters 3|5 (certificate from a cluster CA made in <work-dir>/pki)', port('--admin-port'), 8443)
    .option('--no-admin', 'no HTTPS entry point')
    .option('--insecure-dev', 'plain HTTP between the components, no certificates (the behaviour before mutual TLS; for development and tests)')
    .option('--status-file <path>', 'keep a JSON description of the running cluster here (see README, "Scripting sextant up")')
    .helpOption('-h, --help', 'show this help and exit')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out.text += s), writeErr: (s) => (out.text += s), outputError: () => {} });
}

function envPort(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name];
  return v === undefined || v === '' ? dflt : port(name)(v);
}

/** `sextant up` options from its arguments (no --help); throws ConfigError on bad input. */
export function parseUpArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): UpOptions {
  const a = readUpArgs(argv, env);
  if (a.kind === 'help') throw new ConfigError('--help', 'asks for the usage, not a cluster');
  return a.options;
}

/** Parse `sextant up` arguments: options, or the help text for -h/--help; throws ConfigError on bad input. */
export function readUpArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): UpArgs {
  const out = { text: '' };
  const cmd = upCommand(out);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.help')) return { kind: 'help', text: out.text };
    if (e instanceof CommanderError) throw new ConfigError('arguments', e.message.replace(/^error: /, ''));
    throw e;
  }
  const v = cmd.opts<{
    agents: number; masters: number; zkPort: number; workDir: string; example: boolean; netns?: boolean; ipv6?: boolean; masterPort: number; marathonPort: number; agentPort: number;
    ipBase: string; portBase: number; agentTimeoutMs: number; mesosDnsPort?: number; statusFile?: string; adminPort: number; admin: boolean; insecureDev?: boolean;
  }>();
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v.ipBase) || v.ipBase.split('.').some((o) => Number(o) > 255)) throw new ConfigError('--ip-base', `'${v.ipBase}' must be three octets like 127.0.0`);
  if (![1, 3, 5].includes(v.masters)) throw new ConfigError('--masters', `'${v.masters}' must be 1, 3 or 5 (a ZooKeeper ensemble needs an odd size)`);
  if (v.zkPort + 1707 > 65535) throw new ConfigError('--zk-port', `'${v.zkPort}' leaves no room for the peer and election ports (+707, +1707)`);
  if (v.masters + v.agents > 254) throw new ConfigError('--agents', `${v.masters} masters and ${v.agents} agents need more than the 254 addresses of ${v.ipBase}.0/24`);
  if (v.portBase > 65535 - 1000 * v.agents) throw new ConfigError('--port-base', `'${v.portBase}' leaves no room for ${v.agents} agents of 1000 ports (at most ${65535 - 1000 * v.agents})`);
  if (v.statusFile === '') throw new ConfigError('--status-file', 'needs a path');
  if (v.ipv6 && !v.netns) throw new ConfigError('--ipv6', 'needs --netns (the agents get IPv6 addresses in their own namespaces)');
  return {
    kind: 'run',
    options: {
      agents: v.agents,
      masters: v.masters,
      insecureDev: v.insecureDev === true,
      zkPorts: { client: v.zkPort, peer: v.zkPort + 707, election: v.zkPort + 1707 },
      workDir: v.workDir,
      example: v.example,
      netns: v.netns ?? false,
      ...(v.ipv6 ? { ipv6: true } : {}),
      masterPort: v.masterPort,
      marathonPort: v.marathonPort,
      agentPort: v.agentPort,
      ipBase: v.ipBase,
      portBase: v.portBase,
      agentTimeoutMs: v.agentTimeoutMs,
      mesosDnsPort: v.mesosDnsPort ?? envPort(env, 'SEXTANT_MESOS_DNS_PORT', 61053),
      adminPort: v.admin === false ? 0 : v.adminPort,
      mesosDnsHttpPort: envPort(env, 'SEXTANT_MESOS_DNS_HTTP_PORT', 8123),
      controlPort: envPort(env, 'SEXTANT_CONTROL_PORT', 5060),
      masterServices: (env.SEXTANT_MASTER_SERVICES ?? 'acs,overlay,l4lb,netmetrics,mesos-dns,control,dashboard').split(',').map((s) => s.trim()).filter(Boolean),
      ...(v.statusFile ? { statusFile: v.statusFile } : {}),
    },
  };
}

/** The address of master k (0-based): <ip-base>.1, .2, ... */
export function masterIpOf(o: Pick<UpOptions, 'ipBase'>, k: number): string {
  return `${o.ipBase}.${k + 1}`;
}

/** The address of agent i (0-based), after the masters' addresses. */
export function agentIpOf(o: Pick<UpOptions, 'ipBase' | 'masters'>, i: number): string {
  return `${o.ipBase}.${o.masters + i + 1}`;
}
