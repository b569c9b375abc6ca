/**
 * The CNI execution protocol: supported versions, the CNI_* environment, and the result shape
 * per version (1.1.0 adds `mtu` on interfaces).
 */
import { CniError, CODES } from './errors.js';

export const SUPPORTED_VERSIONS = ['1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';
export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';
const COMMANDS: Command[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'];

export interface CniEnv {
  command: Command;
  containerId: string;
  /** Path of the network namespace ('' when the runtime no longer has one, e.g. DEL). */
  netns: string;
  ifname: string;
  args: Record<string, string>;
  path: string[];
}

/** Variables each command cannot run without (spec section 2). */
const REQUIRED: Record<Command, (keyof NodeJS.ProcessEnv)[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  VERSION: [],
  STATUS: [],
  GC: [],
};

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const raw = env.CNI_COMMAND;
  if (!raw) throw new CniError(CODES.invalidEnv, 'CNI_COMMAND is not set');
  const command = raw.toUpperCase() as Command;
  if (!COMMANDS.includes(command)) throw new CniError(CODES.invalidEnv, `CNI_COMMAND: unknown command "${raw}"`);
  for (const name of REQUIRED[command]) {
    if (!env[name]) throw new CniError(CODES.invalidEnv, `${String(name)} is not set (required for ${command})`);
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname && !/^[^\s/:]{1,15}$/.test(ifname)) throw new CniError(CODES.invalidEnv, `CNI_IFNAME: "${ifname}" is not a valid interface name`);
  return {
    command,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname,
    args: parseArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}

/** CNI_ARGS is `K1=V1;K2=V2`. */
export function parseArgs(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CODES.invalidEnv, `CNI_ARGS: "${part}" is not KEY=VALUE`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
}
export interface IpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}
export interface Route {
  dst: string;
  gw?: string;
}
export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
export interface Result {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

/** The result as `version` defines it: drops fields that version does not know. */
export function formatResult(r: Omit<Result, 'cniVersion'>, version: string): Result {
  const out: Result = { cniVersion: version };
  if (r.interfaces) {
    out.interfaces = r.interfaces.map((i) => {
      const o: Interface = { name: i.name };
      if (i.mac) o.mac = i.mac;
      if (i.mtu !== undefined && version === '1.1.0') o.mtu = i.mtu;
      if (i.sandbox !== undefined) o.sandbox = i.sandbox;
      return o;
    });
  }
  out.ips = (r.ips ?? []).map((ip) => ({ ...ip }));
  if (r.routes) out.routes = r.routes.map((x) => ({ ...x }));
  out.dns = r.dns ?? {};
  return out;
}

export function isSupported(v: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}
