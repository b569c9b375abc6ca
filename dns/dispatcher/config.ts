/**
 * The dispatcher config (keys in the spirit of dcos-dns), parsed once with common/config `Fields`.
 * A bad value throws ConfigError naming the key; nothing is half-applied.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../../common/errors.js';
import { Fields } from '../../common/config.js';
import { DEFAULT_LOG_LIMIT, type LogLimit } from '../../common/log-limit.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';

export const DEFAULT_BIND_IPS = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];
export const MESOS_DNS_PORT = 61053;

export interface CacheConfig {
  enabled: boolean;
  maxEntries: number;
  /** Upper bound on how long an answer is kept, whatever its TTL says (seconds). */
  maxTtl: number;
}

/** RFC 8767 serve-stale for `.mesos` names (answers kept from Mesos-DNS, served when every Mesos-DNS upstream fails). */
export interface ServeStaleConfig {
  enabled: boolean;
  /** Oldest answer served (seconds). */
  maxAge: number;
  /** TTL put on every record of a stale answer (seconds). */
  ttl: number;
  /** Answers kept (least recently stored goes first). */
  maxEntries: number;
  /**
   * After every Mesos-DNS upstream failed, for this long (ms) a name with a stale answer gets it at
   * once (the query still goes upstream, to refresh it and notice the masters coming back).
   */
  recheckMs: number;
  /**
   * RFC 8767's client response timer (ms): a query whose Mesos-DNS upstreams have not answered
   * within it gets the kept answer (the query goes on upstream and refreshes it); 0 turns it off.
   */
  clientTimeoutMs: number;
}

export interface DispatcherConfig {
  upstreamResolvers: Endpoint[];
  mesosResolvers: Endpoint[];
  /** zone (lowercase, no trailing dot) -> resolvers. */
  forwardZones: Map<string, Endpoint[]>;
  bindIps: string[];
  /** Create a dummy interface carrying bind_ips (only when bind_ips was not configured). */
  createInterface: boolean;
  bindInterface: string;
  udpPort: number;
  tcpPort: number;
  handlerLimit: number;
  /**
   * Processes answering UDP queries on the same sockets (1: the dispatcher alone). The others are
   * child processes fed the zones by the first; TCP stays with the first.
   */
  workers: number;
  /** Per-upstream timeout, ms. */
  timeoutMs: number;
  tcpIdleTimeoutMs: number;
  cache: CacheConfig;
  serveStale: ServeStaleConfig;
  /** Per-kind rate limit of log lines (events a client can cause once per packet). */
  logLimit: LogLimit;
  zoneFile?: string;
  resolvConf?: { path: string; intervalMs: number };
  metrics?: { host: string; port: number };
}

function endpoints(f: Fields, key: string, defaultPort: number): Endpoint[] {
  return f.strings(key, { default: [] }).map((s, i) => {
    const e = parseEndpoint(s, defaultPort);
    if (typeof e === 'string') throw new ConfigError(`${f.at(key)}[${i}]`, e);
    return e;
  });
}

function forwardZones(f: Fields): Map<string, Endpoint[]> {
  const zones = f.object('forward_zones');
  const out = new Map<string, Endpoint[]>();
  for (const raw of Object.keys((f.raw('forward_zones') as Record<string, unknown> | undefined) ?? {})) {
    const zone = raw.toLowerCase().replace(/\.$/, '');
    if (!/^([a-z0-9_-]{1,63})(\.[a-z0-9_-]{1,63})*$/.test(zone)) throw new ConfigError(zones.at(raw), 'is not a domain name');
    const list = endpoints(zones, raw, 53);
    if (!list.length) throw new ConfigError(zones.at(raw), 'needs at least one resolver');
    out.set(zone, list);
  }
  return out;
}

function bindIps(f: Fields): string[] | undefined {
  if (!f.has('bind_ips')) return undefined;
  const ips = f.strings('bind_ips', { default: [] });
  if (!ips.length) throw new ConfigError('bind_ips', 'must list at least one address');
  ips.forEach((ip, i) => {
    if (isIP(ip) === 0) throw new ConfigError(`bind_ips[${i}]`, `'${ip}' is not an IP address`);
  });
  return ips;
}

function cache(f: Fields): CacheConfig {
  const c = f.object('cache');
  const out = {
    enabled: c.boolean('enabled', { default: true }),
    maxEntries: c.number('max_entries', { default: 10000 }, { integer: true, min: 1 }),
    maxTtl: c.number('max_ttl', { default: 3600 }, { integer: true, min: 1 }),
  };
  c.rejectUnknown();
  return out;
}

function serveStale(f: Fields): ServeStaleConfig {
  const c = f.object('serve_stale');
  const out = {
    enabled: c.boolean('enabled', { default: true }),
    maxAge: c.number('max_age', { default: 86400 }, { integer: true, min: 1 }),
    ttl: c.number('ttl', { default: 30 }, { integer: true, min: 0, max: 86400 }),
    maxEntries: c.number('max_entries', { default: 10000 }, { integer: true, min: 1 }),
    recheckMs: c.number('recheck', { default: 30000 }, { integer: true, min: 0 }),
    clientTimeoutMs: c.number('client_timeout', { default: 800 }, { integer: true, min: 0 }),
  };
  c.rejectUnknown();
  return out;
}

function logLimit(f: Fields): LogLimit {
  const c = f.object('log_limit');
  const out = {
    perSecond: c.number('per_second', { default: DEFAULT_LOG_LIMIT.perSecond }, { min: 0.001 }),
    burst: c.number('burst', { default: DEFAULT_LOG_LIMIT.burst }, { integer: true, min: 1 }),
  };
  c.rejectUnknown();
  return out;
}

function optional<T>(f: Fields, key: string, read: (o: Fields) => T): T | undefined {
  if (!f.has(key)) return undefined;
  const o = f.object(key);
  const v = read(o);
  o.rejectUnknown();
  return v;
}

const port = { integer: true, min: 0, max: 65535 };

export function parseDispatcherConfig(raw: unknown): DispatcherConfig {
  const f = new Fields(raw);
  const ips = bindIps(f);
  const cfg: DispatcherConfig = {
    upstreamResolvers: endpoints(f, 'upstream_resolvers', 53),
    mesosResolvers: endpoints(f, 'mesos_resolvers', MESOS_DNS_PORT),
    forwardZones: forwardZones(f),
    bindIps: ips ?? DEFAULT_BIND_IPS,
    createInterface: ips === undefined && f.boolean('create_interface', { default: true }),
    bindInterface: f.string('bind_interface', { default: 'spartan' }),
    udpPort: f.number('udp_port', { default: 53 }, port),
    tcpPort: f.number('tcp_port', { default: 53 }, port),
    handlerLimit: f.number('handler_limit', { default: 1024 }, { integer: true, min: 1 }),
    workers: f.number('workers', { default: 1 }, { integer: true, min: 1, max: 64 }),
    timeoutMs: f.number('timeout', { default: 5000 }, { integer: true, min: 1, max: 60000 }),
    tcpIdleTimeoutMs: f.number('tcp_idle_timeout', { default: 10000 }, { integer: true, min: 1 }),
    cache: cache(f),
    serveStale: serveStale(f),
    logLimit: logLimit(f),
    zoneFile: f.has('zone_file') ? f.string('zone_file', { required: true }) : undefined,
    resolvConf: optional(f, 'resolv_conf', (o) => ({
      path: o.string('path', { required: true }),
      intervalMs: o.number('interval', { default: 5000 }, { integer: true, min: 100 }),
    })),
    metrics: optional(f, 'metrics', (o) => ({
      host: o.string('host', { default: '127.0.0.1' }),
      port: o.number('port', { default: 62501 }, port),
    })),
  };
  f.has('create_interface');
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(cfg.bindInterface)) throw new ConfigError('bind_interface', 'must be an interface name of 1-15 characters');
  f.rejectUnknown();
  return cfg;
}
