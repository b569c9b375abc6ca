/**
 * `sextant master --ip IP [--port 5050] [--marathon-port 8080] --work-dir DIR
 *  [--agent-timeout-ms 15000] [--heartbeat-interval-ms 1000] [--agent-release-grace-ms 86400000] [--hostname NAME]
 *  [--zk zk://H1:2181,H2:2181/sextant [--zk-auth-file FILE] [--zk-mesos-path /mesos] [--zk-session-timeout-ms 2000]]
 *  [--admin-port PORT [--admin-cert FILE --admin-key FILE] [--ca-dir DIR]]
 *  (--tls-dir DIR | --tls-ca F --tls-cert F --tls-key F [--tls-ca-key F]) [--bootstrap-token-file F] | --insecure-dev`
 * Mutual TLS by default on :5050 and :8080 (and the master's calls to agents): `--tls-dir DIR` holds
 * ca.crt, node.crt, node.key and, to sign agents' certificates (TLS bootstrap), ca.key. Without TLS
 * material it refuses to start unless `--insecure-dev` (plain HTTP, logged loudly, flags.insecure_dev
 * in /master/state).
 * Starts the master, then every service the composition root gives it (cli/plugins.ts), one after
 * another, and runs until SIGINT/SIGTERM. With `--zk` the master contends for leadership (ha.ts)
 * and runs the services only while leading. `--admin-port` starts the HTTPS entry point (the front
 * the composition root gives, admin/) on this master whether it leads or not; off by default.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, createLogger, createRegistry, loadTls, readBootstrapToken, readPem, TLS_FLAGS_HINT, tlsPathsFromFlags, untilSignal, type Component, type Registry, type TlsPaths } from '../common/index.js';
import type { MasterFront, MasterFrontHost, MasterHandle, ServiceBuilders, ServiceFlags } from '../contracts/index.js';
import path from 'node:path';
import { Master, type MasterOptions, type MasterTls } from './master.js';
import { parseNamedVipV6Range, parseVipRanges } from './addresses.js';
import { warmMasterSchemas } from './warm.js';
import { limitsFromEnv } from './limits.js';
import { DEFAULT_ZK_SESSION_TIMEOUT_MS, runHaMaster, type HaOptions } from './ha.js';
import { checkZkAuth, readZkAuthFile } from './zk/acl.js';
import { parseZkTarget } from './zk/session.js';
import { redactZkUrl } from '../common/zk-url.js';

const USAGE = 'usage: sextant master --ip IP [--port 5050] [--marathon-port 8080] --work-dir DIR [--agent-timeout-ms 15000] [--heartbeat-interval-ms 1000] [--agent-release-grace-ms 86400000] [--hostname NAME] [--zk zk://HOST:PORT,.../PATH [--zk-auth-file FILE] [--zk-mesos-path /mesos] [--zk-session-timeout-ms 2000]] [--admin-port PORT [--admin-cert FILE --admin-key FILE] [--ca-dir DIR] [--admin-front nginx|node]] [--superuser UID [--superuser-password-file FILE]] [--vip-failure-threshold 0.5] [--vip-failure-min-connections 10] [--vip-drain-failing] [--vip-metrics-interval-ms 5000] (--tls-dir DIR | --tls-ca F --tls-cert F --tls-key F [--tls-ca-key F]) [--bootstrap-token-file F] | --insecure-dev\n\nRuns a master (Mesos API, Marathon, and the services of SEXTANT_MASTER_SERVICES) until SIGINT/SIGTERM.\nWith --zk: one of several masters over a ZooKeeper ensemble (leader election, store in ZooKeeper).\n--zk-auth-file FILE: a ZooKeeper digest credential user:password (file mode 0600; zk://user:password@... works too, visible in ps):\nthe masters\' znodes then carry its ACL (ALL for it, nothing for others; the election under --zk-mesos-path stays world-readable).\nWith --admin-port: the HTTPS entry point on this master (443 in production), certificate from --admin-cert/--admin-key or issued by the cluster CA in --ca-dir (default WORK_DIR/pki, created when absent);\n--admin-front nginx (default when /usr/sbin/nginx exists): nginx terminates TLS and serves the hot reads, the Node entry point behind it; node: the Node entry point alone.\n--superuser UID: create this superuser when the identity store holds no account yet; its password is read from\nthe file, else from $SEXTANT_SUPERUSER_PASSWORD.\nMutual TLS (required unless --insecure-dev): --tls-dir DIR with ca.crt, node.crt, node.key (this master\'s certificate) and ca.key\n(signs agents\' certificates), or --tls-ca/--tls-cert/--tls-key [--tls-ca-key]; --bootstrap-token-file FILE: the token agents\nregister with the first time (TLS bootstrap). --insecure-dev: plain HTTP without client certificates (development and tests only).\n--vip-failure-threshold RATE: a VIP backend failing this share of at least --vip-failure-min-connections connections in the\nlast minute is marked unhealthy in /net/v1/vips (network metrics, polled every --vip-metrics-interval-ms); --vip-drain-failing\nalso drains it (weight 0) until it recovers, never the last live backend of a VIP.';

function int(v: string | undefined, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(flag, `'${v}' is not a non-negative integer`);
  return n;
}

export type MasterArgs = MasterOptions & { ha?: HaOptions; admin: MasterFrontHost['admin']; flags: ServiceFlags };

export function parseMasterArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): MasterArgs {
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
      'zk-auth-file': { type: 'string' },
      'admin-port': { type: 'string' },
      'admin-cert': { type: 'string' },
      'admin-key': { type: 'string' },
      'ca-dir': { type: 'string' },
      'admin-front': { type: 'string' },
      superuser: { type: 'string' },
      'superuser-password-file': { type: 'string' },
      'tls-dir': { type: 'string' },
      'tls-ca': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca-key': { type: 'string' },
      'bootstrap-token-file': { type: 'string' },
      'insecure-dev': { type: 'boolean' },
      'vip-failure-threshold': { type: 'string' },
      'vip-failure-min-connections': { type: 'string' },
      'vip-drain-failing': { type: 'boolean' },
      'vip-metrics-interval-ms': { type: 'string' },
    },
    strict: true,
  });
  const tls = parseMasterTls(values, env);
  if (!values.ip) throw new ConfigError('--ip', 'is required');
  if (isUnspecified(values.ip)) throw new ConfigError('--ip', `'${values.ip}' listens on every interface: give the node's internal address (or a loopback one)`);
  if (!values['work-dir']) throw new ConfigError('--work-dir', 'is required');
  if (values.zk === undefined && values['zk-auth-file'] !== undefined) throw new ConfigError('--zk-auth-file', 'needs --zk');
  const ha = values.zk === undefined ? undefined : parseHa(values, env);
  if ((values['admin-cert'] === undefined) !== (values['admin-key'] === undefined)) throw new ConfigError(values['admin-cert'] ? '--admin-key' : '--admin-cert', 'is required with the other');
  if (values['admin-port'] === undefined && (values['admin-cert'] || values['ca-dir'])) throw new ConfigError('--admin-port', 'is required with --admin-cert/--admin-key/--ca-dir');
  const adminPort = values['admin-port'] === undefined ? undefined : int(values['admin-port'], '--admin-port', 0);
  if (adminPort !== undefined && adminPort > 65535) throw new ConfigError('--admin-port', `${adminPort} is not a port`);
  const front = values['admin-front'];
  if (front !== undefined && front !== 'nginx' && front !== 'node') throw new ConfigError('--admin-front', `'${front}' is not nginx or node`);
  if (front !== undefined && adminPort === undefined) throw new ConfigError('--admin-port', 'is required with --admin-front');
  const admin = {
    ...(adminPort !== undefined ? { port: adminPort } : {}),
    ...(front !== undefined ? { front: front as 'nginx' | 'node' } : {}),
    ...(values['admin-cert'] ? { cert: values['admin-cert'], key: values['admin-key']! } : {}),
    caDir: values['ca-dir'] ?? path.join(values['work-dir'], 'pki'),
  };
  const superuser = parseSuperuser(values.superuser, values['superuser-password-file'], env);
  const netmetrics = parseNetmetrics(values, env);
  return {
    ...(ha ? { ha } : {}),
    admin,
    flags: { ...(superuser ? { superuser } : {}), ...(Object.keys(netmetrics).length ? { netmetrics } : {}) },
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
    namedVipV6Range: parseNamedVipV6Range(env.SEXTANT_VIP_V6_RANGE),
    ...(tls ? { tls } : {}),
  };
}

/** Mutual TLS from the flags; undefined with --insecure-dev; a ConfigError naming the flags without either. */
function parseMasterTls(v: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): MasterTls | undefined {
  const s = (k: string) => v[k] as string | undefined;
  const paths = tlsPathsFromFlags({ 'tls-dir': s('tls-dir'), 'tls-ca': s('tls-ca'), 'tls-cert': s('tls-cert'), 'tls-key': s('tls-key') });
  if (v['insecure-dev']) {
    if (paths || s('tls-ca-key') || s('bootstrap-token-file')) throw new ConfigError('--insecure-dev', 'is given with TLS flags: use one or the other');
    return undefined;
  }
  if (!paths) throw new ConfigError('--tls-dir', `a master needs TLS material: ${TLS_FLAGS_HINT}`);
  const dirFlags = s('tls-dir') !== undefined ? { ca: '--tls-dir', cert: '--tls-dir', key: '--tls-dir' } : undefined;
  const material = loadTls(paths as TlsPaths, dirFlags);
  const caKey = s('tls-ca-key') ?? (s('tls-dir') !== undefined ? path.join(s('tls-dir')!, 'ca.key') : undefined);
  if (s('tls-ca-key') !== undefined) readPem(caKey!, '--tls-ca-key');
  const signer = caKey && existsSync(caKey) ? { cert: paths.ca, key: caKey } : undefined;
  const token = readBootstrapToken(s('bootstrap-token-file'), undefined);
  if (token && !signer) throw new ConfigError('--bootstrap-token-file', 'needs the CA key to sign agents\' certificates: ca.key in --tls-dir, or --tls-ca-key');
  return { material, ...(signer ? { signer } : {}), ...(token ? { token } : {}) };
}

/** `--superuser UID`: its password from `--superuser-password-file` (first line) or SEXTANT_SUPERUSER_PASSWORD. */
function parseSuperuser(uid: string | undefined, file: string | undefined, env: NodeJS.ProcessEnv): ServiceFlags['superuser'] {
  if (uid === undefined) {
    if (file !== undefined) throw new ConfigError('--superuser-password-file', 'needs --superuser UID');
    return undefined;
  }
  if (!uid) throw new ConfigError('--superuser', 'is empty');
  let password: string | undefined;
  if (file !== undefined) {
    try {
      password = readFileSync(file, 'utf8').split('\n')[0]!.trimEnd();
    } catch (e) {
      throw new ConfigError('--superuser-password-file', `cannot read ${file}: ${(e as Error).message}`);
    }
  } else password = env.SEXTANT_SUPERUSER_PASSWORD;
  if (!password) throw new ConfigError('--superuser', 'needs a password: --superuser-password-file FILE or SEXTANT_SUPERUSER_PASSWORD');
  if (password.length < 8) throw new ConfigError('--superuser', 'the password is shorter than 8 characters');
  return { uid, password };
}

/**
 * The network metrics aggregator's flags, each also read from the environment (so `sextant up` can
 * pass them to its master): SEXTANT_VIP_FAILURE_THRESHOLD, SEXTANT_VIP_FAILURE_MIN_CONNECTIONS,
 * SEXTANT_VIP_DRAIN_FAILING (1|true), SEXTANT_VIP_METRICS_INTERVAL_MS. A flag beats its variable.
 */
function parseNetmetrics(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): NonNullable<ServiceFlags['netmetrics']> {
  const pick = (flag: string, name: string): [string, string | undefined] => (values[flag] !== undefined ? [`--${flag}`, String(values[flag])] : [name, env[name] || undefined]);
  const out: NonNullable<ServiceFlags['netmetrics']> = {};
  const [tf, tv] = pick('vip-failure-threshold', 'SEXTANT_VIP_FAILURE_THRESHOLD');
  if (tv !== undefined) {
    const n = Number(tv);
    if (!(Number.isFinite(n) && n > 0 && n <= 1)) throw new ConfigError(tf, `'${tv}' is not a failure rate in (0, 1] (0.5: half the connections failed)`);
    out.threshold = n;
  }
  const [mf, mv] = pick('vip-failure-min-connections', 'SEXTANT_VIP_FAILURE_MIN_CONNECTIONS');
  if (mv !== undefined) out.minConnections = Math.max(1, int(mv, mf, 10));
  const [inf, iv] = pick('vip-metrics-interval-ms', 'SEXTANT_VIP_METRICS_INTERVAL_MS');
  if (iv !== undefined) {
    out.intervalMs = int(iv, inf, 5000);
    if (out.intervalMs < 100) throw new ConfigError(inf, `${out.intervalMs} is below 100 ms`);
  }
  if (values['vip-drain-failing'] === true) out.drain = true;
  else if (env.SEXTANT_VIP_DRAIN_FAILING !== undefined && env.SEXTANT_VIP_DRAIN_FAILING !== '') {
    const d = env.SEXTANT_VIP_DRAIN_FAILING;
    if (!/^(1|true|0|false)$/.test(d)) throw new ConfigError('SEXTANT_VIP_DRAIN_FAILING', `'${d}' is not 1, true, 0 or false`);
    out.drain = d === '1' || d === 'true';
  }
  return out;
}

function parseHa(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): HaOptions {
  const zk = String(values.zk);
  const target = parseZkTarget(zk, '--zk'); // throws ConfigError naming the flag
  if (target.auth) checkZkAuth(target.auth, '--zk');
  const authFile = values['zk-auth-file'] === undefined ? undefined : String(values['zk-auth-file']);
  if (authFile !== undefined && target.auth) throw new ConfigError('--zk-auth-file', 'the --zk URL carries a credential too: give one of them (the file keeps it out of `ps`)');
  const auth = authFile === undefined ? undefined : readZkAuthFile(authFile);
  const path = values['zk-mesos-path'] === undefined ? '/mesos' : String(values['zk-mesos-path']);
  if (!/^\/[^\0]*[^/]$|^\/$/.test(path)) throw new ConfigError('--zk-mesos-path', `'${path}' is not an absolute ZooKeeper path`);
  const timeout = int(values['zk-session-timeout-ms'] as string | undefined, '--zk-session-timeout-ms', DEFAULT_ZK_SESSION_TIMEOUT_MS);
  if (timeout < 400) throw new ConfigError('--zk-session-timeout-ms', `${timeout} is below 400 ms`);
  const max = int(env.SEXTANT_ZK_MAX_VALUE_BYTES, 'SEXTANT_ZK_MAX_VALUE_BYTES', 1_000_000);
  if (max < 1 || max > 1_040_000) throw new ConfigError('SEXTANT_ZK_MAX_VALUE_BYTES', `${max} is not within 1..1040000 (ZooKeeper's jute.maxbuffer is 1 MiB per request)`);
  return { zk, mesosPath: path, sessionTimeoutMs: timeout, maxValueBytes: max, ...(auth ? { auth } : {}) };
}

export async function main(argv: string[], services: ServiceBuilders<MasterHandle> = () => [], front?: MasterFront, preload?: () => Promise<void>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let opts: MasterArgs;
  try {
    opts = parseMasterArgs(argv);
  } catch (e) {
    process.stderr.write(`sextant master: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const log = createLogger('master');
  const registry = opts.registry ?? createRegistry();
  opts = { ...opts, registry };
  let entry: Component | undefined;
  try {
    entry = await startFront(front, opts, registry);
  } catch (e) {
    log.error('entry_start_failed', { err: e });
    process.stderr.write(`sextant master: the entry point could not start: ${(e as Error).message}\n`);
    return 1;
  }
  if (opts.ha) {
    const code = await mainHa(opts, opts.ha, log, services, opts.flags, preload);
    await entry?.stop();
    return code;
  }
  const master = new Master({ ...opts, logger: log });
  await master.start();
  const components: Component[] = [];
  const stopAll = async () => {
    for (const c of components.splice(0).reverse()) await c.stop().catch((e) => log.warn('component_stop_failed', { name: c.name, err: e }));
    await master.stop();
    await entry?.stop();
  };
  try {
    for (const build of services(master, opts.flags)) {
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
  const scheme = master.secure ? 'https' : 'http';
  process.stdout.write(`sextant master listening on ${scheme}://${hostPort(master.ip, master.port)} (marathon ${scheme}://${hostPort(master.ip, master.marathonPort)})${opts.admin.port !== undefined ? ` (entry https://${hostPort(master.ip, opts.admin.port)})` : ''}\n`);
  const sig = await untilSignal();
  log.info('master_stopping', { signal: sig });
  await stopAll();
  return 0;
}

/** `--zk`: contend through ZooKeeper; plugins run while this master leads. */
async function mainHa(opts: MasterOptions, ha: HaOptions, log: ReturnType<typeof createLogger>, services: ServiceBuilders<MasterHandle>, flags: ServiceFlags, preload?: () => Promise<void>): Promise<number> {
  // Compile the services' modules first, while no one waits on this master (see cli/plugins.ts).
  await preload?.();
  warmMasterSchemas(opts.limits);
  const run = await runHaMaster(opts, ha, log, async (master) => {
    const components: Component[] = [];
    const stopAll = async () => {
      for (const c of components.splice(0).reverse()) await c.stop().catch((e) => log.warn('component_stop_failed', { name: c.name, err: e }));
    };
    for (const build of services(master, flags)) {
      const t0 = performance.now();
      const c = await build();
      if (!c) continue;
      await c.start();
      components.push(c);
      log.info('service_started', { name: c.name, ms: Math.round(performance.now() - t0) });
    }
    process.stdout.write(`sextant master elected leader ${hostPort(master.ip, master.port)}\n`);
    return stopAll;
  }, (ip, port, mport) => process.stdout.write(`sextant master listening on ${opts.tls ? 'https' : 'http'}://${hostPort(ip, port)} (marathon ${opts.tls ? 'https' : 'http'}://${hostPort(ip, mport)}) as a contender (zk ${redactZkUrl(ha.zk)})\n`));
  const sig = untilSignal().then((s) => (log.info('master_stopping', { signal: s }), run.stop()));
  const code = await Promise.race([run.done, sig.then(() => 0)]);
  await run.stop();
  return code;
}

/** The front (entry point) on every master, before the election: it proxies to whoever leads. */
async function startFront(front: MasterFront | undefined, opts: MasterArgs, registry: Registry): Promise<Component | undefined> {
  if (!front || opts.admin.port === undefined) return undefined;
  const c = front({
    ip: opts.ip, port: opts.port ?? 5050, marathonPort: opts.marathonPort ?? 8080, workDir: opts.workDir, ...(opts.tls ? { tls: opts.tls.material } : {}),
    ...(opts.hostname ? { hostname: opts.hostname } : {}), admin: opts.admin, metrics: registry, log: createLogger('entry'),
  });
  await c?.start();
  return c;
}

/** 0.0.0.0 or :: (any spelling). */
export function isUnspecified(ip: string): boolean {
  return /^0+(\.0+){3}$/.test(ip) || /^[0:]+$/.test(ip);
}

function hostPort(ip: string, port: number): string {
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
