/**
 * The CNI commands. `main.ts` parses the environment and stdin and calls these; tests call them
 * directly. A config with `ipam` runs standalone (veth + bridge + IPAM + port mappings); a config
 * without `ipam` is a chained plugin after another one (e.g. the standard `bridge`): it takes the
 * address from `prevResult`, adds port mappings and passes the result on.
 */
import { existsSync } from 'node:fs';
import { CniError, CODES } from './errors.js';
import { decodeConfig, parseConfig, type NetConf, type IpamConf } from './config.js';
import { formatResult, isSupported, LATEST_VERSION, SUPPORTED_VERSIONS, type CniEnv, type Result } from './spec.js';
import { allocatorsFor, gatewayFor, requestedOf } from './ipam/ranges.js';
import { formatCidr, formatIp } from '../common/cidr.js';
import type { Host } from './net/run.js';
import { attachHost, bridgePorts, configureTask, delVeth, enableForwarding, hostVethName } from './net/link.js';
import { addPortmap, chainName, removePortmaps } from './net/portmap.js';
import { checkChained, checkStandalone } from './check.js';

export interface CmdArgs extends Omit<CniEnv, 'command'> {
  stdin: string;
  /** Where the host side lives (tests: a throwaway namespace). Default: this process's namespace. */
  host?: Host;
}

function subnetOf(address: string): string {
  return address.includes('/') ? address : `${address}/32`;
}

export async function cmdAdd(a: CmdArgs): Promise<Result> {
  const conf = parseConfig(a.stdin);
  const host = a.host ?? {};
  if (!existsSync(a.netns)) throw new CniError(CODES.invalidEnv, `CNI_NETNS: ${a.netns} does not exist`);
  if (!conf.ipam) return addChained(a, conf, host);
  const ipam = conf.ipam;
  const allocs = allocatorsFor(conf, ipam);
  const ips: string[] = [];
  const hostVeth = hostVethName(a.containerId, a.ifname);
  const chain = chainName(conf.name, a.containerId, a.ifname);
  try {
    for (const al of allocs) ips.push(await al.allocate(a.containerId, a.ifname, requestedOf(a.args, al.family)));
    const cidrs = ipam.ranges.map((r, i) => `${ips[i]}/${r.subnet.len}`);
    const gws = ipam.ranges.map((r) => formatIp(r.subnet.family, r.gateway));
    const v4 = ipam.ranges.findIndex((r) => r.subnet.family === 4);
    if (conf.isGateway) await enableForwarding(host, ipam.ranges.some((r) => r.subnet.family === 6));
    const bridge = { name: conf.bridge, mtu: conf.mtu, gatewayCidrs: conf.isGateway ? ipam.ranges.map((r, i) => `${gws[i]}/${r.subnet.len}`) : [] };
    const { bridge: br, veth: hv } = await attachHost(host, bridge, { hostVeth, bridge: conf.bridge, netns: a.netns, ifname: a.ifname, mtu: conf.mtu, hairpin: conf.hairpinMode });
    const routes = ipam.routes.map((r) => ({ dst: r.dst, gw: r.gw ?? gatewayFor(ipam, r.dst) }));
    const task = await configureTask({ netns: a.netns, ifname: a.ifname, cidrs, routes });
    // Port mappings are IPv4 (host ports on the agent's IPv4 address), to the task's IPv4 address.
    if (v4 >= 0) await addPortmap(host, { chain, taskIp: ips[v4]!, bridgeSubnet: formatCidr(ipam.ranges[v4]!.subnet), mappings: conf.portMappings, exclude: conf.portMapExclude.map(formatCidr) });
    else if (conf.portMappings.length) throw new CniError(CODES.invalidConfig, 'runtimeConfig.portMappings: need an IPv4 range (host ports are IPv4)');
    return formatResult(
      {
        interfaces: [
          { name: conf.bridge, mac: br.address },
          { name: hostVeth, mac: hv.address },
          { name: a.ifname, mac: task.address, mtu: task.mtu, sandbox: a.netns },
        ],
        ips: cidrs.map((address, i) => ({ address, gateway: gws[i]!, interface: 2 })),
        routes: ipam.routes,
        dns: conf.dns,
      },
      conf.cniVersion,
    );
  } catch (e) {
    // Roll back so a failed ADD leaves no address, link or rule behind.
    await delVeth(host, hostVeth, a.netns, a.ifname).catch(() => undefined);
    await removePortmaps(host, (c) => c === chain).catch(() => undefined);
    for (const al of allocs) await al.release(a.containerId, a.ifname).catch(() => undefined);
    throw e;
  }
}

async function addChained(a: CmdArgs, conf: NetConf, host: Host): Promise<Result> {
  const prev = conf.prevResult;
  if (!prev) throw new CniError(CODES.invalidConfig, 'ipam: is required unless chained after another plugin (prevResult)');
  const ip4 = prev.ips?.find((i) => !i.address.includes(':'));
  if (conf.portMappings.length) {
    if (!ip4) throw new CniError(CODES.invalidConfig, 'prevResult.ips: no IPv4 address to map ports to');
    const [addr] = ip4.address.split('/');
    await addPortmap(host, {
      chain: chainName(conf.name, a.containerId, a.ifname),
      taskIp: addr!,
      bridgeSubnet: subnetOf(ip4.address),
      mappings: conf.portMappings,
      exclude: conf.portMapExclude.map(formatCidr),
    });
  }
  return formatResult(prev, conf.cniVersion);
}

export async function cmdDel(a: CmdArgs): Promise<void> {
  const conf = parseConfig(a.stdin);
  const host = a.host ?? {};
  const chain = chainName(conf.name, a.containerId, a.ifname);
  await removePortmaps(host, (c) => c === chain);
  if (!conf.ipam) return;
  const netns = a.netns && existsSync(a.netns) ? a.netns : '';
  await delVeth(host, hostVethName(a.containerId, a.ifname), netns, a.ifname);
  for (const al of allocatorsFor(conf, conf.ipam)) await al.release(a.containerId, a.ifname);
}

export async function cmdCheck(a: CmdArgs): Promise<void> {
  const conf = parseConfig(a.stdin);
  const host = a.host ?? {};
  if (!existsSync(a.netns)) throw new CniError(CODES.invalidEnv, `CNI_NETNS: ${a.netns} does not exist`);
  if (conf.ipam) await checkStandalone(a, conf, conf.ipam, host);
  else await checkChained(a, conf, host);
}

export function cmdVersion(stdin: string): { cniVersion: string; supportedVersions: string[] } {
  let asked: unknown;
  try {
    asked = stdin.trim() ? (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion : undefined;
  } catch {
    asked = undefined;
  }
  const cniVersion = typeof asked === 'string' && isSupported(asked) ? asked : LATEST_VERSION;
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

/** STATUS and GC are 1.1.0 commands: an older config cannot ask for them. */
function requireV11(conf: NetConf, command: string): void {
  if (conf.cniVersion !== '1.1.0') throw new CniError(CODES.incompatibleVersion, `${command} needs cniVersion 1.1.0, config has ${conf.cniVersion}`);
}

export async function cmdStatus(a: Pick<CmdArgs, 'stdin'>): Promise<void> {
  const conf = parseConfig(a.stdin);
  requireV11(conf, 'STATUS');
  if (!conf.ipam) return;
  for (const alloc of allocatorsFor(conf, conf.ipam)) {
    try {
      await alloc.store.init();
    } catch (e) {
      throw new CniError(CODES.pluginNotAvailable, `IPAM data dir unusable: ${(e as Error).message}`);
    }
    if ((await alloc.free()) <= 0) throw new CniError(CODES.pluginNotAvailable, `no free address in ${alloc.describe()} for network ${conf.name}`);
  }
}

export interface GcReport {
  addresses: string[];
  portmaps: string[];
  links: string[];
}

export async function cmdGc(a: Pick<CmdArgs, 'stdin' | 'host'>): Promise<GcReport> {
  const conf = parseConfig(a.stdin);
  requireV11(conf, 'GC');
  const host = a.host ?? {};
  const valid = conf.validAttachments ?? [];
  const keepChains = new Set(valid.map((v) => chainName(conf.name, v.containerID, v.ifname)));
  const portmaps = await removePortmaps(host, (c) => c.startsWith(`${conf.name}-`) && !keepChains.has(c));
  if (!conf.ipam) return { addresses: [], portmaps, links: [] };
  const addresses: string[] = [];
  for (const al of allocatorsFor(conf, conf.ipam)) addresses.push(...(await al.gc(valid)).map((x) => x.ip));
  const keepLinks = new Set(valid.map((v) => hostVethName(v.containerID, v.ifname)));
  const links = (await bridgePorts(host, conf.bridge)).filter((l) => !keepLinks.has(l));
  for (const l of links) await delVeth(host, l, '', '');
  return { addresses, portmaps, links };
}

/** The cniVersion to put in an error: the config's when readable and supported. */
export function errorVersion(stdin: string): string {
  try {
    const v = decodeConfig(stdin).cniVersion;
    return typeof v === 'string' && isSupported(v) ? v : LATEST_VERSION;
  } catch {
    return LATEST_VERSION;
  }
}
