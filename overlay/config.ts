/**
 * Overlay definitions: the cluster-wide VXLAN config, virtual networks, isolation rules and
 * policies. One parser per shape; each returns a typed value or throws ConfigError naming the
 * field (e.g. `subnet`, `networks[1].prefix`), and never half-applies.
 */
import { ConfigError, contains, Fields, formatCidr, overlaps, parseCidr, parseIp, type Cidr } from '../common/index.js';
import type { IsolationRule, NetworkPolicy, OverlayConfig, OverlayNetwork, Protocol } from '../contracts/index.js';

export const RESERVED_NAMES: ReadonlySet<string> = new Set(['host', 'bridge', 'default', 'none']);
export const MAX_NAME = 13;

import { DEFAULT_OVERLAY } from '../contracts/index.js';
import { VTEP_SUBNET6 } from './desired.js';
export { DEFAULT_OVERLAY };
export const DEFAULT_MTU = 1420;
export const DEFAULT_NETWORKS: OverlayNetwork[] = [{ key: 'dcos', name: 'dcos', subnet: '9.0.0.0/8', prefix: 24, mtu: DEFAULT_MTU }];

/**
 * The default networks with IPv6 on `dcos` (DESIGN.md's optional `fd01:b::/64` prefix 80): what a
 * fresh master starts with when SEXTANT_OVERLAY_SUBNET6 is set (`sextant up --ipv6`). Checked like
 * any network definition; a bad value is a ConfigError naming the field.
 */
export function dualStackDefaultNetworks(subnet6: string, prefix6 = 80): OverlayNetwork[] {
  const { key: _key, ...dcos } = DEFAULT_NETWORKS[0]!;
  return [parseNetwork({ ...dcos, subnet6, prefix6 })];
}

export function parseOverlayConfig(value: unknown, path = ''): OverlayConfig {
  const f = new Fields(value, path);
  const vtep = cidrField(f, 'vtep_subnet', DEFAULT_OVERLAY.vtep_subnet, 4);
  if (vtep.len > 30) throw new ConfigError(f.at('vtep_subnet'), 'must hold at least 2 agents (prefix <= 30)');
  const oui = f.string('vtep_mac_oui', { default: DEFAULT_OVERLAY.vtep_mac_oui });
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(oui)) throw new ConfigError(f.at('vtep_mac_oui'), 'must be a MAC like 70:B3:D5:00:00:00');
  const vni = f.number('vni', { default: DEFAULT_OVERLAY.vni }, { integer: true, min: 1, max: 16777215 });
  const name = f.string('vtep_name', { default: DEFAULT_OVERLAY.vtep_name });
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(name)) throw new ConfigError(f.at('vtep_name'), 'must be an interface name of 1-15 characters');
  const port = f.number('vxlan_port', { default: DEFAULT_OVERLAY.vxlan_port }, { integer: true, min: 1, max: 65535 });
  return { vtep_subnet: formatCidr(vtep), vtep_mac_oui: oui.toLowerCase(), vni, vtep_name: name, vxlan_port: port };
}

function cidrField(f: Fields, key: string, def: string | undefined, family: 4 | 6): Cidr {
  const s = def === undefined ? f.string(key, { required: true }) : f.string(key, { default: def });
  const c = parseCidr(s);
  if (!c) throw new ConfigError(f.at(key), `"${s}" is not a network address in CIDR form (host bits zero)`);
  if (c.family !== family) throw new ConfigError(f.at(key), `must be an IPv${family} prefix`);
  return c;
}

/**
 * A network definition, checked against the networks already defined and the VTEP subnet (no
 * overlaps, no duplicate names).
 */
export function parseNetwork(value: unknown, existing: OverlayNetwork[] = [], vtepSubnet = DEFAULT_OVERLAY.vtep_subnet, path = ''): OverlayNetwork {
  const f = new Fields(value, path);
  const name = f.string('name', { required: true });
  if (name.length > MAX_NAME) throw new ConfigError(f.at('name'), `must be at most ${MAX_NAME} characters (bridge m-<name> is an interface name)`);
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) throw new ConfigError(f.at('name'), 'must be letters, digits, - or _, starting with a letter or digit');
  if (RESERVED_NAMES.has(name.toLowerCase())) throw new ConfigError(f.at('name'), `"${name}" is reserved (${[...RESERVED_NAMES].join(', ')})`);
  if (existing.some((n) => n.name === name)) throw new ConfigError(f.at('name'), `network "${name}" already exists`);
  const subnet = cidrField(f, 'subnet', undefined, 4);
  const prefix = f.number('prefix', { default: 24 }, { integer: true });
  checkPrefix(f, 'prefix', subnet, prefix, 30);
  const taken: { what: string; c: Cidr }[] = existing.map((n) => ({ what: `network "${n.name}"`, c: parseCidr(n.subnet)! }));
  taken.push({ what: 'vtep_subnet', c: parseCidr(vtepSubnet)! });
  for (const t of taken) if (overlaps(t.c, subnet)) throw new ConfigError(f.at('subnet'), `${formatCidr(subnet)} overlaps ${t.what} (${formatCidr(t.c)})`);
  const net: OverlayNetwork = { key: name, name, subnet: formatCidr(subnet), prefix, mtu: f.number('mtu', { default: DEFAULT_MTU }, { integer: true, min: 576, max: 9000 }) };
  if (f.has('subnet6') || f.has('prefix6')) {
    const s6 = cidrField(f, 'subnet6', undefined, 6);
    const p6 = f.number('prefix6', { default: 80 }, { integer: true });
    checkPrefix(f, 'prefix6', s6, p6, 126);
    for (const r of RESERVED6) if (overlaps(parseCidr(r.cidr)!, s6)) throw new ConfigError(f.at('subnet6'), `${formatCidr(s6)} overlaps ${r.what} (${r.cidr})`);
    const vtep6 = parseCidr(VTEP_SUBNET6)!;
    if (overlaps(vtep6, s6)) throw new ConfigError(f.at('subnet6'), `${formatCidr(s6)} overlaps the VTEPs' IPv6 subnet (${VTEP_SUBNET6})`);
    for (const n of existing) {
      const o = n.subnet6 ? parseCidr(n.subnet6) : undefined;
      if (o && overlaps(o, s6)) throw new ConfigError(f.at('subnet6'), `${formatCidr(s6)} overlaps network "${n.name}" (${n.subnet6})`);
    }
    net.subnet6 = formatCidr(s6);
    net.prefix6 = p6;
  }
  f.rejectUnknown();
  return net;
}

/**
 * IPv6 prefixes no network may use (checked here too, so a network made outside the master's API,
 * e.g. SEXTANT_OVERLAY_SUBNET6, is held to the same rule as the address book's door check).
 */
const RESERVED6 = [
  { what: 'unspecified', cidr: '::/128' },
  { what: 'loopback', cidr: '::1/128' },
  { what: 'IPv4-mapped', cidr: '::ffff:0:0/96' },
  { what: 'link-local', cidr: 'fe80::/10' },
  { what: 'multicast', cidr: 'ff00::/8' },
];

function checkPrefix(f: Fields, key: string, subnet: Cidr, prefix: number, max: number): void {
  if (prefix <= subnet.len) throw new ConfigError(f.at(key), `/${prefix} is not smaller than the subnet /${subnet.len} (each agent gets one /${key === 'prefix' ? 'prefix' : 'prefix6'} of it)`);
  if (prefix > max) throw new ConfigError(f.at(key), `must be <= ${max} (the per-agent slice is split in halves and needs hosts)`);
  if (prefix - subnet.len > 20) throw new ConfigError(f.at(key), `gives 2^${prefix - subnet.len} slices; at most 2^20 are supported`);
}

/**
 * An endpoint of an isolation rule: `network` (both families: its subnet and its subnet6) or
 * `network/cidr`, an IPv4 prefix inside the network's subnet or an IPv6 prefix inside its subnet6
 * (the rule then applies to that family only).
 */
export interface Endpoint {
  network: string;
  /** The IPv4 prefix: the network's subnet, or the given IPv4 prefix; undefined for an IPv6 prefix. */
  cidr: string | undefined;
  /** The IPv6 prefix: the network's subnet6 (if any), or the given IPv6 prefix; undefined for an IPv4 prefix. */
  cidr6: string | undefined;
}

export function parseEndpoint(s: string, networks: OverlayNetwork[], field: string): Endpoint {
  const slash = s.indexOf('/');
  const name = slash < 0 ? s : s.slice(0, slash);
  const net = networks.find((n) => n.name === name);
  if (!net) throw new ConfigError(field, `unknown network "${name}"`);
  if (slash < 0) return { network: name, cidr: net.subnet, cidr6: net.subnet6 };
  const text = s.slice(slash + 1);
  const c = parseCidr(text);
  if (!c) throw new ConfigError(field, `"${text}" is not an IPv4 or IPv6 prefix (host bits zero)`);
  const within = c.family === 4 ? net.subnet : net.subnet6;
  if (!within) throw new ConfigError(field, `${formatCidr(c)} is IPv6 but network "${name}" has no subnet6`);
  const outer = parseCidr(within)!;
  if (!contains(outer, c.base) || c.len < outer.len) throw new ConfigError(field, `${formatCidr(c)} is not inside network "${name}" (${within})`);
  return c.family === 4 ? { network: name, cidr: formatCidr(c), cidr6: undefined } : { network: name, cidr: undefined, cidr6: formatCidr(c) };
}

/** Port specs: numbers or "a-b" ranges, normalised to strings like "80" and "8000-8100". */
function parsePorts(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new ConfigError(field, 'must be a non-empty list of ports or "a-b" ranges');
  return value.map((p, i) => {
    const m = typeof p === 'number' ? [String(p), String(p), undefined] : typeof p === 'string' ? /^(\d+)(?:-(\d+))?$/.exec(p) : null;
    const lo = m ? Number(m[1]) : NaN;
    const hi = m && m[2] !== undefined ? Number(m[2]) : lo;
    if (!m || !Number.isInteger(lo) || lo < 1 || hi > 65535 || hi < lo) throw new ConfigError(`${field}[${i}]`, `${JSON.stringify(p)} is not a port (1-65535) or range "a-b"`);
    return lo === hi ? String(lo) : `${lo}-${hi}`;
  });
}

export function ruleKey(r: Pick<IsolationRule, 'from' | 'to' | 'ports' | 'protocol'>): string {
  return `${r.from}>${r.to}${r.protocol ? `:${r.protocol}` : ''}${r.ports ? `:${r.ports.join(',')}` : ''}`;
}

export function parseRule(value: unknown, networks: OverlayNetwork[], path = ''): IsolationRule {
  const f = new Fields(value, path);
  const from = f.string('from', { required: true });
  const to = f.string('to', { required: true });
  const ef = parseEndpoint(from, networks, f.at('from'));
  const et = parseEndpoint(to, networks, f.at('to'));
  // A rule applies in each family both endpoints have: an IPv4 prefix to an IPv6 one matches nothing.
  if (!((ef.cidr && et.cidr) || (ef.cidr6 && et.cidr6))) {
    throw new ConfigError(f.at('to'), `"${to}" and "${from}" have no address family in common (an IPv4 prefix and an IPv6 prefix, or a network without subnet6): the rule would match nothing`);
  }
  const rawPorts = f.raw('ports');
  const ports = rawPorts === undefined ? undefined : parsePorts(rawPorts, f.at('ports'));
  const proto = f.string('protocol', { default: '' });
  if (proto && proto !== 'tcp' && proto !== 'udp') throw new ConfigError(f.at('protocol'), 'must be "tcp" or "udp"');
  const action = f.string('action', { default: 'allow' });
  if (action !== 'allow') throw new ConfigError(f.at('action'), 'only "allow" rules exist (deny is a network default)');
  f.rejectUnknown();
  const rule: IsolationRule = { key: '', from, to, action: 'allow' };
  if (ports) rule.ports = ports;
  if (proto) rule.protocol = proto as Protocol;
  rule.key = ruleKey(rule);
  return rule;
}

export function parsePolicy(value: unknown, networks: OverlayNetwork[], path = ''): NetworkPolicy {
  const f = new Fields(value, path);
  const network = f.string('network', { required: true });
  if (!networks.some((n) => n.name === network)) throw new ConfigError(f.at('network'), `unknown network "${network}"`);
  const def = f.string('default', { required: true });
  if (def !== 'allow' && def !== 'deny') throw new ConfigError(f.at('default'), 'must be "allow" or "deny"');
  f.rejectUnknown();
  return { key: network, network, default: def };
}

/** VTEP MAC = OUI's first 3 bytes + the last 3 bytes of the VTEP IP (DC/OS). */
export function vtepMac(oui: string, vtepIp: string): string {
  const ip = parseIp(vtepIp.split('/')[0]!);
  if (!ip || ip.family !== 4) throw new ConfigError('vtep_ip', `"${vtepIp}" is not an IPv4 address`);
  const head = oui.toLowerCase().split(':').slice(0, 3);
  const tail = [16n, 8n, 0n].map((s) => ((ip.value >> s) & 255n).toString(16).padStart(2, '0'));
  return [...head, ...tail].join(':');
}
