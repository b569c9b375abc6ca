/**
 * `sextant master --ip IP [--port 5050] [--marathon-port 8080] --work-dir DIR
 *  [--agent-timeout-ms 15000] [--heartbeat-interval-ms 1000] [--hostname NAME]`
 * Starts the master, then every service the composition root gives it (cli/plugins.ts), one after
 * another, and runs until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { ConfigError, createLogger, untilSignal, type Component } from '../common/index.js';
import type { MasterHandle, ServiceBuilders } from '../contracts/index.js';
import { Master, type MasterOptions } from './master.js';
import { parseVipRanges } from './addresses.js';
import { limitsFromEnv } from './limits.js';

const USAGE = 'usage: sextant master --ip IP [--port 5050] [--marathon-port 8080] --work-dir DIR [--agent-timeout-ms 15000] [--heartbeat-interval-ms 1000] [--hostname NAME]\n\nRuns a master (Mesos API, Marathon, and the services of SEXTANT_MASTER_SERVICES) until SIGINT/SIGTERM.';

function int(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(flag, `'${v}' is not a non-negative integer`);
  return n;
}

export function parseMasterArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): MasterOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      ip: { type: 'string' },
      port: { type: 'string' },
      'marathon-port': { type: 'string' },
      'work-dir': { type: 'string' },
      'agent-timeout-ms': { type: 'string' },
      'heartbeat-interval-ms': { type: 'string' },
      hostname: { type: 'string' },
    },
    strict: true,
  });
  if (!values.ip) throw new ConfigError('--ip', 'is required');
  if (!values['work-dir']) throw new ConfigError('--work-dir', 'is required');
  return {
    ip: values.ip,
    port: int(values.port, '--port', 5050),
    marathonPort: int(values['marathon-port'], '--marathon-port', 8080),
    workDir: values['work-dir'],
    agentTimeoutMs: int(values['agent-timeout-ms'], '--agent-timeout-ms', 15000),
    heartbeatIntervalMs: int(values['heartbeat-interval-ms'], '--heartbeat-interval-ms', 1000),
    ...(values.hostname ? { hostname: values.hostname } : {}),
    limits: limitsFromEnv(env),
    vipRanges: parseVipRanges(env.SEXTANT_VIP_RANGES),
  };
}

export async function main(argv: string[], services: ServiceBuilders<MasterHandle> = () => []): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let opts: MasterOptions;
  try {
    opts = parseMasterArgs(argv);
  } catch (e) {
    process.stderr.write(`sextant master: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const log = createLogger('master');
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

function hostPort(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
