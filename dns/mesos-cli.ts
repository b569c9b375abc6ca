/**
 * `sextant mesos-dns -config FILE`: drop-in for the mesos-dns binary. Go-style flags: `-config`
 * (default config.json), `-version`, `-v N` (also `--flag`, `-flag=value`).
 */
import { untilSignal } from '../common/daemon.js';
import { createLogger } from '../common/log.js';
import { collectProcessMetrics, createRegistry } from '../common/metrics.js';
import { configFetchState, loadConfig, MesosDns, Poller, MESOS_DNS_VERSION } from './mesos/index.js';
import { checkZk } from './mesos/zk.js';

const USAGE = 'usage: sextant mesos-dns [-config FILE] [-version] [-v N]\n';

export interface Flags {
  help?: boolean;
  config: string;
  version: boolean;
  verbose: number;
}

export function parseFlags(argv: string[]): Flags {
  const f: Flags = { config: 'config.json', version: false, verbose: 0 };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([a-zA-Z]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(argv[i])}`);
    const [, name, inline] = m;
    const value = () => {
      if (inline !== undefined) return inline;
      if (i + 1 >= argv.length) throw new Error(`flag needs an argument: -${name}`);
      return argv[++i]!;
    };
    if (name === 'config') f.config = value();
    else if (name === 'version') f.version = inline === undefined || inline === 'true';
    else if (name === 'v' || name === 'vv') {
      const v = inline ?? (argv[i + 1] !== undefined && /^\d+$/.test(argv[i + 1]!) ? argv[++i]! : '1');
      f.verbose = name === 'vv' ? 2 : Number(v);
    } else if (name === 'h' || name === 'help') f.help = true;
    else throw new Error(`flag provided but not defined: -${name}`);
  }
  return f;
}

export async function main(argv: string[]): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`${MESOS_DNS_VERSION}\n`);
    return 0;
  }
  if (flags.verbose > 0 && !process.env.SEXTANT_LOG_LEVEL) process.env.SEXTANT_LOG_LEVEL = 'debug';
  const log = createLogger('mesos-dns');
  let loaded;
  try {
    loaded = loadConfig(flags.config);
  } catch (e) {
    log.error('config_invalid', { file: flags.config, err: e });
    process.stderr.write(`mesos-dns: ${(e as Error).message}\n`);
    return 1;
  }
  const { config, unknownKeys } = loaded;
  if (unknownKeys.length) log.warn('config_unknown_keys_ignored', { keys: unknownKeys });
  if (config.Zk) await checkZk(config.Zk, config.Masters, log);
  const registry = createRegistry();
  collectProcessMetrics(registry);
  const dns = new MesosDns({ config, registry, log });
  let fetchState;
  try {
    fetchState = configFetchState(config);
  } catch (e) {
    process.stderr.write(`mesos-dns: ${(e as Error).message}\n`);
    return 1;
  }
  const poller = new Poller({ target: dns, masters: config.Masters, refreshSeconds: config.RefreshSeconds, timeoutSeconds: config.StateTimeoutSeconds, log, registry, fetchState });
  try {
    await dns.start();
  } catch (e) {
    log.error('listen_failed', { err: e });
    process.stderr.write(`mesos-dns: ${(e as Error).message}\n`);
    return 1;
  }
  await poller.start();
  process.stdout.write(`mesos-dns ready: dns ${config.DnsOn ? `${config.Listener}:${dns.dnsPort()}` : 'off'}, http ${config.HttpOn ? `${dns.httpAddress()?.host}:${dns.httpAddress()?.port}` : 'off'}\n`);
  await untilSignal();
  await poller.stop();
  await dns.stop();
  return 0;
}
