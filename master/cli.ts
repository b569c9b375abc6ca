/**
 * `sextant master --ip IP [--port 5050] [--marathon-port 8080] --work-dir DIR
 *  [--agent-timeout-ms 15000] [--heartbeat-interval-ms 1000] [--agent-release-grace-ms 86400000] [--hostname NAME]
 *  [--zk zk://H1:2181,H2:2181/sextant [--zk-mesos-path /mesos] [--zk-session-timeout-ms 4000]]`
 * Starts the master, then every service the composition root gives it (cli/plugins.ts), one after
 * another, and runs until SIGINT/SIGTERM. With `--zk` the master contends for leadership (ha.ts)
 * and runs the services only while leading.
 */
import { parseArgs } from 'node:util';
import { ConfigError, createLogger, untilSignal, type Component } from '../common/index.js';
import type { MasterHandle, ServiceBuilders } from '../contracts/index.js';
import { Master, type MasterOptions } from './master.js';
import { parseVipRanges } from './addresses.js';
import { limitsFromEnv } from './limits.js';
import { runHaMaster, type HaOptions } from './ha.js';
import { parseZkTarget } from './zk/session.js';

const USAGE = 'usage: sextant master --ip IP [--port 5050] [--marathon-port 8080] --work-dir DIR [--agent-timeout-ms 15000] [--heartbeat-interval-ms 1000] [--agent-release-grace-ms 86400000] [--hostname NAME] [--zk zk://HOST:PORT,.../PATH [--zk-mesos-path /mesos] [--zk-session-timeout-ms 4000]]\n\nRuns a master (Mesos API, Marathon, and the services of SEXTANT_MASTER_SERVICES) until SIGINT/SIGTERM.\nWith --zk: one of several masters over a ZooKeeper ensemble (leader election, store in ZooKeeper).';

function int(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(flag, `'${v}' is not a non-negative integer`);
  return n;
}

export function parseMasterArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): MasterOptions & { ha?: HaOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      ip: { type: 'string' },
      port: { type: 'string' },
      'marathon-port': { type: 'string' },
      'work-dir': { type: 'string' },
      'agent-timeout-ms': { type: 'string' },
      'heartbeat-interval-ms': { type: 'string' },
      'agent-release-grace-ms': { type: 'string' },
      hostname: { type: 'string' },
      zk: { type: 'string' },
      'zk-mesos-path': { type: 'string' },
      'zk-session-timeout-ms': { type: 'string' },
    },
    strict: true,
  });
  if (!values.ip) throw new ConfigError('--ip', 'is required');
  if (!values['work-dir']) throw new ConfigError('--work-dir', 'is required');
  const ha = values.zk === undefined ? undefined : parseHa(values, env);
  return {
    ...(ha ? { ha } : {}),
    ip: values.ip,
    port: int(values.port, '--port', 5050),
    marathonPort: int(values['marathon-port'], '--marathon-port', 8080),
    workDir: values['work-dir'],
    agentTimeoutMs: int(values['agent-timeout-ms'], '--agent-timeout-ms', 15000),
    heartbeatIntervalMs: int(values['heartbeat-interval-ms'], '--heartbeat-interval-ms', 1000),
    agentReleaseGraceMs: int(values['agent-release-grace-ms'], '--agent-release-grace-ms', 86_400_000),
    ...(values.hostname ? { hostname: values.hostname } : {}),
    limits: limitsFromEnv(env),
    vipRanges: parseVipRanges(env.SEXTANT_VIP_RANGES),
  };
}

function parseHa(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): HaOptions {
  const zk = String(values.zk);
  parseZkTarget(zk, '--zk'); // throws ConfigError naming the flag
  const path = values['zk-mesos-path'] === undefined ? '/mesos' : String(values['zk-mesos-path']);
  if (!/^\/[^\0]*[^/]$|^\/$/.test(path)) throw new ConfigError('--zk-mesos-path', `'${path}' is not an absolute ZooKeeper path`);
  const timeout = int(values['zk-session-timeout-ms'] as string | undefined, '--zk-session-timeout-ms', 4000);
  if (timeout < 400) throw new ConfigError('--zk-session-timeout-ms', `${timeout} is below 400 ms`);
  const max = int(env.SEXTANT_ZK_MAX_VALUE_BYTES, 'SEXTANT_ZK_MAX_VALUE_BYTES', 1_000_000);
  if (max < 1 || max > 1_040_000) throw new ConfigError('SEXTANT_ZK_MAX_VALUE_BYTES', `${max} is not within 1..1040000 (ZooKeeper's jute.maxbuffer is 1 MiB per request)`);
  return { zk, mesosPath: path, sessionTimeoutMs: timeout, maxValueBytes: max };
}

export async function main(argv: string[], services: ServiceBuilders<MasterHandle> = () => []): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let opts: MasterOptions & { ha?: HaOptions };
  try {
    opts = parseMasterArgs(argv);
  } catch (e) {
    process.stderr.write(`sextant master: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const log = createLogger('master');
  if (opts.ha) return mainHa(opts, opts.ha, log, services);
  const master = new Master({ ...opts, logger: log });
  await master.start();
  const components: Component[] = [];
  const stopAll = async () => {
    for (const c of components.splice(0).reverse()) await c.stop().catch((e) => log.warn('component_stop_failed', { name: c.name, err: e }));
    await master.stop();
  };
  try {
    for (const build of services(master)) {
      const c = await build();
      if (!c) continue;
      await c.start();
      components.push(c);
    }
  } catch (e) {
    log.error('plugin_start_failed', { err: e });
    await stopAll();
    return 1;
  }
  process.stdout.write(`sextant master listening on http://${hostPort(master.ip, master.port)} (marathon http://${hostPort(master.ip, master.marathonPort)})\n`);
  const sig = await untilSignal();
  log.info('master_stopping', { signal: sig });
  await stopAll();
  return 0;
}

/** `--zk`: contend through ZooKeeper; plugins run while this master leads. */
async function mainHa(opts: MasterOptions, ha: HaOptions, log: ReturnType<typeof createLogger>, services: ServiceBuilders<MasterHandle>): Promise<number> {
  const run = await runHaMaster(opts, ha, log, async (master) => {
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of components.splice(0).reverse()) await c.stop().catch((e) => log.warn('component_stop_failed', { name: c.name, err: e }));
    };
    for (const build of services(master)) {
      const c = await build();
      if (!c) continue;
      await c.start();
      components.push(c);
    }
    process.stdout.write(`sextant master elected leader ${hostPort(master.ip, master.port)}\n`);
    return stopAll;
  }, (ip, port, mport) => process.stdout.write(`sextant master listening on http://${hostPort(ip, port)} (marathon http://${hostPort(ip, mport)}) as a contender (zk ${ha.zk.replace(/\/\/[^@/]*@/, '//******@')})\n`));
  const sig = untilSignal().then((s) => (log.info('master_stopping', { signal: s }), run.stop()));
  const code = await Promise.race([run.done, sig.then(() => 0)]);
  await run.stop();
  return code;
}

function hostPort(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
