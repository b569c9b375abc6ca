/**
 * Parses the network configuration a runtime writes on stdin into a typed value. Accepts the
 * fields of the standard `bridge` plugin and `host-local` IPAM, so one conflist runs with either
 * (see README). Every error names the field and carries the spec's code.
 */
import { CniError, CODES } from './errors.js';
import { isSupported, type Dns, type Result, type Interface, type IpConfig, type Route } from './spec.js';
import { contains, parseCidr, parseIp, parseIp4, type Cidr, type Family } from '../common/cidr.js';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP?: string;
}

/** One range; its family is `subnet.family`. */
export interface IpamRange {
  subnet: Cidr;
  rangeStart?: bigint;
  rangeEnd?: bigint;
  gateway: bigint;
}

export interface IpamConf {
  type: string;
  /**
   * One range per range set, in the config's order (host-local's `last_reserved_ip.<index>`):
   * at most one IPv4 and one IPv6 set, so a dual-stack task gets one address of each.
   */
  ranges: IpamRange[];
  routes: Route[];
  dataDir: string;
}

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  bridge: string;
  mtu: number;
  isGateway: boolean;
  hairpinMode: boolean;
  ipam?: IpamConf;
  dns: Dns;
  prevResult?: Result;
  portMappings: PortMapping[];
  /** Destinations port mappings never capture even when local (VIPs made local for IPVS). */
  portMapExclude: Cidr[];
  /** GC: attachments still in use. */
  validAttachments?: { containerID: string; ifname: string }[];
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
type Obj = Record<string, unknown>;

const bad = (field: string, why: string, code: number = CODES.invalidConfig) => new CniError(code, `${field}: ${why}`);

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, key: string, at: string, dflt?: string): string {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw bad(at + key, 'is required');
    return dflt;
  }
  if (typeof v !== 'string') throw bad(at + key, 'must be a string');
  return v;
}

function bool(o: Obj, key: string, at: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw bad(at + key, 'must be true or false');
  return v;
}

function strings(o: Obj, key: string, at: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(at + key, 'must be a list of strings');
  return v as string[];
}

/** An IPv4 prefix; host bits are cleared (`9.0.1.7/24` is 9.0.1.0/24), as host-local does. */
function cidr(s: string, field: string): Cidr {
  const c = parseCidr(s, false);
  if (c?.family !== 4) throw bad(field, `"${s}" is not an IPv4 CIDR`);
  return c;
}

/** An IPv4 or IPv6 prefix (IPAM ranges and routes), host bits cleared. */
function anyCidr(s: string, field: string): Cidr {
  const c = parseCidr(s, false);
  if (!c) throw bad(field, `"${s}" is not an IPv4 or IPv6 CIDR`);
  return c;
}

function ipOf(s: unknown, family: Family, field: string): bigint {
  const ip = typeof s === 'string' ? parseIp(s) : undefined;
  if (ip?.family !== family) throw bad(field, `${JSON.stringify(s)} is not an IPv${family} address`);
  return ip.value;
}

function ip4(s: unknown, field: string): bigint {
  const n = typeof s === 'string' ? parseIp4(s) : undefined;
  if (n === undefined) throw bad(field, `${JSON.stringify(s)} is not an IPv4 address`);
  return n;
}

/** Decode stdin: bad JSON is code 6, a bad version code 1, bad fields code 7. */
export function decodeConfig(stdin: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CODES.decode, `network configuration is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw new CniError(CODES.decode, 'network configuration must be a JSON object');
  return v;
}

export function parseVersion(o: Obj): string {
  const v = o.cniVersion;
  if (v === undefined) throw new CniError(CODES.incompatibleVersion, 'cniVersion is missing (implies 0.1.0, which is not supported)');
  if (typeof v !== 'string') throw bad('cniVersion', 'must be a string');
  if (!isSupported(v)) throw new CniError(CODES.incompatibleVersion, `incompatible CNI version "${v}": supported are 1.0.0, 1.1.0`);
  return v;
}

export function parseConfig(stdin: string): NetConf {
  const o = decodeConfig(stdin);
  const cniVersion = parseVersion(o);
  const name = str(o, 'name', '');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw bad('name', `"${name}" is not a valid network name`);
  const type = str(o, 'type', '');
  const bridge = str(o, 'bridge', '', `m-${name}`);
  if (!/^[^\s/:]{1,15}$/.test(bridge)) throw bad('bridge', `"${bridge}" is not a valid interface name (max 15 chars)`);
  const mtu = o.mtu ?? 1500;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 576 || mtu > 65535) throw bad('mtu', 'must be an integer from 576 to 65535');
  const prevResult = o.prevResult === undefined ? undefined : parsePrevResult(o.prevResult, cniVersion);
  const rc = o.runtimeConfig;
  if (rc !== undefined && !isObj(rc)) throw bad('runtimeConfig', 'must be an object');
  return {
    cniVersion,
    name,
    type,
    bridge,
    mtu,
    isGateway: bool(o, 'isGateway', '', true),
    hairpinMode: bool(o, 'hairpinMode', '', true),
    ipam: o.ipam === undefined ? undefined : parseIpam(o.ipam),
    dns: parseDns(o.dns),
    prevResult,
    portMappings: parsePortMappings(rc?.portMappings),
    portMapExclude: (strings(o, 'portMapExclude', '') ?? []).map((s, i) => cidr(s, `portMapExclude[${i}]`)),
    validAttachments: parseAttachments(o['cni.dev/valid-attachments']),
  };
}

function parseIpam(v: unknown): IpamConf {
  if (!isObj(v)) throw bad('ipam', 'must be an object');
  const type = str(v, 'type', 'ipam.');
  let ranges: IpamRange[];
  if (v.ranges !== undefined) {
    const sets = v.ranges;
    if (!Array.isArray(sets) || sets.length === 0 || !sets.every((s) => Array.isArray(s) && s.length > 0 && s.every(isObj))) {
      throw bad('ipam.ranges', 'must be a non-empty list of non-empty lists of ranges');
    }
    if (sets.length > 2) throw bad('ipam.ranges', 'at most two range sets (one IPv4, one IPv6) are supported', CODES.unsupportedField);
    ranges = (sets as Obj[][]).map((set, i) => {
      if (set.length > 1) throw bad(`ipam.ranges[${i}]`, 'only one range per range set is supported', CODES.unsupportedField);
      return parseRange(set[0]!, `ipam.ranges[${i}][0].`);
    });
    if (ranges.length === 2 && ranges[0]!.subnet.family === ranges[1]!.subnet.family) {
      throw bad('ipam.ranges[1][0].subnet', `a second IPv${ranges[1]!.subnet.family} range set is not supported (one IPv4 and one IPv6)`, CODES.unsupportedField);
    }
  } else {
    ranges = [parseRange(v, 'ipam.')];
  }
  const families = ranges.map((r) => r.subnet.family);
  return { type, ranges, routes: parseRoutes(v.routes, families), dataDir: str(v, 'dataDir', 'ipam.', DEFAULT_DATA_DIR) };
}

function parseRange(o: Obj, at: string): IpamRange {
  const subnet = anyCidr(str(o, 'subnet', at), at + 'subnet');
  const inside = (key: string): bigint | undefined => {
    if (o[key] === undefined) return undefined;
    const n = ipOf(o[key], subnet.family, at + key);
    if (!contains(subnet, n)) {
      throw bad(at + key, `${String(o[key])} is outside ${String(o.subnet)}`);
    }
    return n;
  };
  const gateway = inside('gateway') ?? subnet.base + 1n;
  const range: IpamRange = { subnet, gateway };
  const rs = inside('rangeStart');
  const re = inside('rangeEnd');
  if (rs !== undefined) range.rangeStart = rs;
  if (re !== undefined) range.rangeEnd = re;
  if (rs !== undefined && re !== undefined && rs > re) throw bad(at + 'rangeStart', 'is after rangeEnd');
  return range;
}

/** Default: a default route per family the ranges have (via that family's gateway). */
function parseRoutes(v: unknown, families: Family[]): Route[] {
  if (v === undefined) return families.map((f) => ({ dst: f === 4 ? '0.0.0.0/0' : '::/0' }));
  if (!Array.isArray(v)) throw bad('ipam.routes', 'must be a list');
  return v.map((r, i) => {
    if (!isObj(r)) throw bad(`ipam.routes[${i}]`, 'must be an object');
    const dst = str(r, 'dst', `ipam.routes[${i}].`);
    const c = anyCidr(dst, `ipam.routes[${i}].dst`);
    if (!families.includes(c.family)) throw bad(`ipam.routes[${i}].dst`, `${dst} is IPv${c.family} but no IPv${c.family} range is configured`);
    const out: Route = { dst };
    if (r.gw !== undefined) {
      ipOf(r.gw, c.family, `ipam.routes[${i}].gw`);
      out.gw = r.gw as string;
    }
    return out;
  });
}

function parseDns(v: unknown): Dns {
  if (v === undefined) return {};
  if (!isObj(v)) throw bad('dns', 'must be an object');
  const out: Dns = {};
  const ns = strings(v, 'nameservers', 'dns.');
  const search = strings(v, 'search', 'dns.');
  const options = strings(v, 'options', 'dns.');
  if (ns) out.nameservers = ns;
  if (v.domain !== undefined) out.domain = str(v, 'domain', 'dns.');
  if (search) out.search = search;
  if (options) out.options = options;
  return out;
}

function parsePortMappings(v: unknown): PortMapping[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw bad('runtimeConfig.portMappings', 'must be a list');
  const port = (o: Obj, key: string, at: string): number => {
    const p = o[key];
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) throw bad(at + key, 'must be a port number 1-65535');
    return p;
  };
  return v.map((m, i) => {
    const at = `runtimeConfig.portMappings[${i}].`;
    if (!isObj(m)) throw bad(at.slice(0, -1), 'must be an object');
    const protocol = str(m, 'protocol', at, 'tcp').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp') throw bad(at + 'protocol', `"${protocol}" is not tcp or udp`);
    const out: PortMapping = { hostPort: port(m, 'hostPort', at), containerPort: port(m, 'containerPort', at), protocol };
    if (m.hostIP !== undefined && m.hostIP !== '' && m.hostIP !== '0.0.0.0') {
      ip4(m.hostIP, at + 'hostIP');
      out.hostIP = m.hostIP as string;
    }
    return out;
  });
}

function parseAttachments(v: unknown): NetConf['validAttachments'] {
  if (v === undefined) return undefined;
  const field = 'cni.dev/valid-attachments';
  if (!Array.isArray(v)) throw bad(field, 'must be a list');
  return v.map((a, i) => {
    if (!isObj(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw bad(`${field}[${i}]`, 'must be {containerID, ifname}');
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

/** A previous plugin's result (any 1.x plugin, e.g. the standard `bridge`), reduced to known fields. */
export function parsePrevResult(v: unknown, cniVersion: string): Result {
  if (!isObj(v)) throw bad('prevResult', 'must be an object');
  const list = (key: string): Obj[] => {
    const l = v[key];
    if (l === undefined) return [];
    if (!Array.isArray(l) || !l.every(isObj)) throw bad(`prevResult.${key}`, 'must be a list of objects');
    return l as Obj[];
  };
  const interfaces: Interface[] = list('interfaces').map((i, n) => {
    const out: Interface = { name: str(i, 'name', `prevResult.interfaces[${n}].`) };
    if (typeof i.mac === 'string') out.mac = i.mac;
    if (typeof i.mtu === 'number') out.mtu = i.mtu;
    if (typeof i.sandbox === 'string') out.sandbox = i.sandbox;
    return out;
  });
  const ips: IpConfig[] = list('ips').map((ip, n) => {
    const at = `prevResult.ips[${n}].`;
    const address = str(ip, 'address', at);
    const out: IpConfig = { address };
    if (typeof ip.gateway === 'string') out.gateway = ip.gateway;
    if (typeof ip.interface === 'number') out.interface = ip.interface;
    return out;
  });
  const routes: Route[] = list('routes').map((r, n) => {
    const out: Route = { dst: str(r, 'dst', `prevResult.routes[${n}].`) };
    if (typeof r.gw === 'string') out.gw = r.gw;
    return out;
  });
  return { cniVersion, interfaces, ips, routes, dns: v.dns === undefined ? {} : parseDns(v.dns) };
}
