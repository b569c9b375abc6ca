/**
 * The conflist the agent writes per network. The first plugin's config is valid for both our
 * plugin and the standard `bridge` + `host-local`; switching `plugins` to `standard` swaps the
 * type and chains our plugin after it for port mappings (it takes the address from prevResult).
 */
import { formatCidr, formatIp, formatIp4, parseCidr } from '../common/cidr.js';
import { CniError, CODES } from './errors.js';
import { PLUGIN_TYPE } from './wrapper.js';
import type { Conflist } from './runtime.js';

export interface NetworkSpec {
  name: string;
  /** The agent's bridge slice of the network, e.g. 9.0.1.0/25; the gateway is its first address. */
  subnet: string;
  /** The agent's IPv6 bridge slice (dual-stack network), e.g. fd01:b::/81; gateway its first address. */
  subnet6?: string;
  mtu: number;
  dataDir: string;
  /** Our plugin (default) or the standard bridge + host-local from /usr/lib/cni. */
  plugins?: 'sextant' | 'standard';
  /** Destinations port mappings must never capture (VIP ranges). */
  portMapExclude?: string[];
}

export const CONFLIST_VERSION = '1.0.0';

export function bridgeName(network: string): string {
  return `m-${network}`;
}

export function buildConflist(s: NetworkSpec): Conflist {
  const c = parseCidr(s.subnet, false);
  if (c?.family !== 4) throw new CniError(CODES.invalidConfig, `network ${s.name}: subnet "${s.subnet}" is not an IPv4 CIDR`);
  const c6 = s.subnet6 === undefined ? undefined : parseCidr(s.subnet6, false);
  if (s.subnet6 !== undefined && c6?.family !== 6) throw new CniError(CODES.invalidConfig, `network ${s.name}: subnet6 "${s.subnet6}" is not an IPv6 CIDR`);
  if (bridgeName(s.name).length > 15) throw new CniError(CODES.invalidConfig, `network ${s.name}: name longer than 13 characters`);
  const main = {
    type: s.plugins === 'standard' ? 'bridge' : PLUGIN_TYPE,
    bridge: bridgeName(s.name),
    isGateway: true,
    ipMasq: false,
    hairpinMode: true,
    mtu: s.mtu,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: `${formatIp4(c.base)}/${c.len}`, gateway: formatIp4(c.base + 1n) }], ...(c6 ? [[{ subnet: formatCidr(c6), gateway: formatIp(6, c6.base + 1n) }]] : [])],
      routes: [{ dst: '0.0.0.0/0' }, ...(c6 ? [{ dst: '::/0' }] : [])],
      dataDir: s.dataDir,
    },
  };
  const portmap = { portMapExclude: s.portMapExclude ?? [], capabilities: { portMappings: true } };
  const plugins = s.plugins === 'standard' ? [main, { type: PLUGIN_TYPE, ...portmap }] : [{ ...main, ...portmap }];
  return { cniVersion: CONFLIST_VERSION, name: s.name, plugins };
}
