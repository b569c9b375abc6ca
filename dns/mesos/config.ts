/**
 * The mesos-dns `config.json`: same keys (matched ignoring case), same defaults and the same
 * validation rules as mesos-dns v0.7 (records/config.go, validation.go). Field names keep the
 * upstream spelling so `/v1/config` returns what mesos-dns clients expect. Unknown keys are ignored
 * like Go's json does (and listed by `unknownKeys` so the CLI can warn).
 */
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../common/errors.js';
import { Fields, loadConfigFile } from '../../common/config.js';
import { splitHostPort } from './state.js';
import { redactZkUrl } from '../../common/zk-url.js';

export interface MesosDnsConfig {
  RefreshSeconds: number;
  Port: number;
  Timeout: number;
  StateTimeoutSeconds: number;
  ZkDetectionTimeout: number;
  HttpPort: number;
  TTL: number;
  SRVRecordDefaultWeight: number;
  SOASerial: number;
  SOARefresh: number;
  SOARetry: number;
  SOAExpire: number;
  SOAMinttl: number;
  SOAMname: string;
  SOARname: string;
  Masters: string[];
  ZoneResolvers: Record<string, string[]>;
  Resolvers: string[];
  IPSources: string[];
  Zk: string;
  Domain: string;
  File: string;
  Listener: string;
  HTTPListener: string;
  RecurseOn: boolean;
  DnsOn: boolean;
  HttpOn: boolean;
  ExternalOn: boolean;
  EnforceRFC952: boolean;
  SetTruncateBit: boolean;
  EnumerationOn: boolean;
  MesosHTTPSOn: boolean;
  CACertFile: string;
  CertFile: string;
  KeyFile: string;
  MesosCredentials: { principal: string; secret: string };
  IAMConfigFile: string;
  MesosAuthentication: string;
  /** Sextant extension (off = mesos-dns behaviour): honour EDNS0 UDP sizes and answer with OPT. */
  EDNS0On: boolean;
  /** Sextant extension: a DNS-over-TCP connection with no bytes either way for this long is closed (seconds). */
  TCPIdleTimeout: number;
  /** Sextant extension: log lines per second and burst, per event kind (a malformed packet must not cost a line each). */
  LogLimitPerSecond: number;
  LogLimitBurst: number;
}

export function defaultConfig(): MesosDnsConfig {
  return {
    RefreshSeconds: 60, Port: 53, Timeout: 5, StateTimeoutSeconds: 300, ZkDetectionTimeout: 30, HttpPort: 8123,
    TTL: 60, SRVRecordDefaultWeight: 1, SOASerial: 0, SOARefresh: 60, SOARetry: 600, SOAExpire: 86400, SOAMinttl: 60,
    SOAMname: 'ns1.mesos', SOARname: 'root.ns1.mesos', Masters: [], ZoneResolvers: {}, Resolvers: ['8.8.8.8'],
    IPSources: ['netinfo', 'mesos', 'host'], Zk: '', Domain: 'mesos', File: '', Listener: '0.0.0.0', HTTPListener: '0.0.0.0',
    RecurseOn: true, DnsOn: true, HttpOn: true, ExternalOn: true, EnforceRFC952: false, SetTruncateBit: true,
    EnumerationOn: true, MesosHTTPSOn: false, CACertFile: '', CertFile: '', KeyFile: '',
    MesosCredentials: { principal: '', secret: '' }, IAMConfigFile: '', MesosAuthentication: '', EDNS0On: false,
    TCPIdleTimeout: 10, LogLimitPerSecond: 10, LogLimitBurst: 20,
  };
}

const u32 = { min: 0, max: 0xffffffff, integer: true };
const DOMAIN_RE = /^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$/;

/** Read every known key over the defaults (types checked per field). */
function read(f: Fields, d: MesosDnsConfig): MesosDnsConfig {
  const c = { ...d };
  const int = { integer: true };
  for (const k of ['RefreshSeconds', 'Port', 'Timeout', 'StateTimeoutSeconds', 'ZkDetectionTimeout', 'HttpPort'] as const) c[k] = f.number(k, { default: d[k] }, int);
  c.TTL = f.number('TTL', { default: d.TTL }, { integer: true, min: -(2 ** 31), max: 2 ** 31 - 1 });
  c.SRVRecordDefaultWeight = f.number('SRVRecordDefaultWeight', { default: 1 }, { integer: true, min: 0, max: 65535 });
  for (const k of ['SOASerial', 'SOARefresh', 'SOARetry', 'SOAExpire', 'SOAMinttl'] as const) c[k] = f.number(k, { default: d[k] }, u32);
  for (const k of ['SOAMname', 'SOARname', 'Zk', 'Domain', 'Listener', 'HTTPListener', 'CACertFile', 'CertFile', 'KeyFile', 'IAMConfigFile', 'MesosAuthentication'] as const)
    c[k] = f.string(k, { default: d[k] });
  for (const k of ['Masters', 'Resolvers', 'IPSources'] as const) c[k] = f.strings(k, { default: d[k] });
  for (const k of ['RecurseOn', 'DnsOn', 'HttpOn', 'ExternalOn', 'EnforceRFC952', 'SetTruncateBit', 'EnumerationOn', 'MesosHTTPSOn', 'EDNS0On'] as const)
    c[k] = f.boolean(k, { default: d[k] });
  c.TCPIdleTimeout = f.number('TCPIdleTimeout', { default: d.TCPIdleTimeout }, { min: 0.001, max: 3600 });
  c.LogLimitPerSecond = f.number('LogLimitPerSecond', { default: d.LogLimitPerSecond }, { min: 0.001 });
  c.LogLimitBurst = f.number('LogLimitBurst', { default: d.LogLimitBurst }, { integer: true, min: 1 });
  const zr = f.object('ZoneResolvers');
  c.ZoneResolvers = {};
  for (const zone of zr.unknown()) c.ZoneResolvers[zone] = zr.strings(zone, { required: true });
  const cred = f.object('MesosCredentials');
  c.MesosCredentials = { principal: cred.string('principal', { default: '' }), secret: cred.string('secret', { default: '' }) };
  return c;
}

function normalizeMaster(hp: string): string {
  const p = splitHostPort(hp);
  if (!p) throw new ConfigError('Masters', `illegal host:port specified: ${hp}`);
  if (!validPort(p.port)) throw new ConfigError('Masters', `illegal host:port specified: ${hp}`);
  return `${p.host}:${p.port}`;
}

function normalizeResolver(hp: string, field: string): string {
  const p = splitHostPort(hp) ?? { host: hp, port: '53' };
  if (!isIP(p.host)) throw new ConfigError(field, `illegal ip specified: ${p.host}`);
  if (!validPort(p.port)) throw new ConfigError(field, `illegal host:port specified: ${hp}`);
  return `${p.host}:${p.port}`;
}

function validPort(p: string): boolean {
  return /^\d+$/.test(p) && Number(p) > 0 && Number(p) <= 65535;
}

function unique(list: string[], norm: (s: string) => string, field: string): void {
  const seen = new Set<string>();
  for (const s of list) {
    const n = norm(s);
    if (seen.has(n)) throw new ConfigError(field, `duplicate found: ${s}`);
    seen.add(n);
  }
}

/** The mesos-dns checks, in its order; errors carry the upstream wording. */
export function validate(c: MesosDnsConfig): MesosDnsConfig {
  if (!c.DnsOn && !c.HttpOn) throw new ConfigError('DnsOn', 'either DNS or HTTP server should be on');
  if (c.Masters.length === 0 && !c.Zk) throw new ConfigError('Masters', 'specify Mesos masters or Zookeeper in config.json');
  unique(c.Masters, normalizeMaster, 'Masters');
  if (c.ExternalOn) {
    unique(c.Resolvers, (r) => normalizeResolver(r, 'Resolvers'), 'Resolvers');
    validateZoneResolvers(c.ZoneResolvers, c.Domain.toLowerCase());
  }
  if (c.IPSources.length === 0) throw new ConfigError('IPSources', 'empty ip sources');
  if (new Set(c.IPSources).size !== c.IPSources.length) throw new ConfigError('IPSources', 'duplicate ip source specified');
  for (const s of c.IPSources) if (!['host', 'docker', 'mesos', 'netinfo'].includes(s)) throw new ConfigError('IPSources', `invalid ip source "${s}"`);
  if (c.StateTimeoutSeconds <= 0) throw new ConfigError('StateTimeoutSeconds', `Invalid HTTP Timeout: ${c.StateTimeoutSeconds}`);
  const domain = c.Domain.toLowerCase();
  if (!DOMAIN_RE.test(domain)) throw new ConfigError('Domain', `${domain} is not a valid domain name`);
  if (c.Zk && !/^zk:\/\/[^/]+(\/.*)?$/.test(c.Zk)) throw new ConfigError('Zk', `invalid zk url ${redactZkUrl(c.Zk)} (want zk://host:port[,host:port]/path)`);
  if (c.CertFile && !c.KeyFile) throw new ConfigError('KeyFile', 'Missing private key');
  if (!c.CertFile && c.KeyFile) throw new ConfigError('CertFile', 'Missing certificate');
  for (const k of ['Port', 'HttpPort'] as const) if (c[k] < 0 || c[k] > 65535) throw new ConfigError(k, `illegal port ${c[k]}`);
  if (c.RefreshSeconds <= 0) throw new ConfigError('RefreshSeconds', `must be > 0, got ${c.RefreshSeconds}`);
  return {
    ...c,
    Domain: domain,
    SOARname: c.SOARname.replace(/@/g, '.').replace(/\.+$/, '') + '.',
    SOAMname: c.SOAMname.replace(/\.+$/, '') + '.',
    SOASerial: Math.floor(Date.now() / 1000) >>> 0,
  };
}

function validateZoneResolvers(zrs: Record<string, string[]>, mesosDomain: string): void {
  const all: string[] = [];
  for (const [zone, rs] of Object.entries(zrs)) {
    if (rs.length === 0) throw new ConfigError(`ZoneResolvers.${zone}`, `field ZoneResolver ${zone} is empty`);
    if (!DOMAIN_RE.test(zone)) throw new ConfigError(`ZoneResolvers.${zone}`, `invalid domain name: ${zone}`);
    unique(rs, (r) => normalizeResolver(r, `ZoneResolvers.${zone}`), `ZoneResolvers.${zone}`);
    if (zone === mesosDomain) throw new ConfigError(`ZoneResolvers.${zone}`, `can't specify ZoneResolver for Mesos domain (${mesosDomain})`);
    all.push('.' + zone);
  }
  all.push('.' + mesosDomain);
  for (const a of all) for (const b of all) if (a !== b && a.endsWith(b)) throw new ConfigError('ZoneResolvers', `ambiguous zone resolvers: ${a} is masked by ${b}`);
}

/** Parse config data (already JSON-decoded); throws ConfigError naming the field. */
export function parseConfig(data: unknown, file = ''): { config: MesosDnsConfig; unknownKeys: string[] } {
  const f = new Fields(data, '', true);
  const c = read(f, defaultConfig());
  if (c.ExternalOn && c.Resolvers.length === 0) c.Resolvers = localResolvers();
  return { config: validate({ ...c, File: file }), unknownKeys: f.unknown() };
}

export function loadConfig(path: string): { config: MesosDnsConfig; unknownKeys: string[] } {
  return parseConfig(loadConfigFile(path), path);
}

/** `nameserver` lines of /etc/resolv.conf (mesos-dns uses them when Resolvers is empty), minus loopback. */
export function localResolvers(text?: string): string[] {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      return [];
    }
  }
  return t
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((s): s is string => !!s && isIP(s) !== 0 && !s.startsWith('127.') && s !== '::1');
}

/** The config as served on /v1/config: secrets replaced (mesos-dns serves them in clear). */
export function redactedConfig(c: MesosDnsConfig): Record<string, unknown> {
  return { ...c, MesosCredentials: { principal: c.MesosCredentials.principal, secret: c.MesosCredentials.secret ? '******' : '' } };
}
