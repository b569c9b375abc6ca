/**
 * The VIP label contract (DC/OS formats), shared by the master (validation at the door) and the
 * l4lb (deriving VIPs from state). Pure: a typed value or a VipLabelError naming what was wrong.
 * Port labels: key starts with `VIP`, value `/name:port` (named), `ip:port`, `[v6]:port`, or
 * `v6addr:port` (split on the last `:`). Task labels: `VIP_PORT<n>` = `tcp://name:port`.
 */
import ipaddr from 'ipaddr.js';
import { SextantError } from '../common/errors.js';

export type VipProtocol = 'tcp' | 'udp';

/** A VIP label that cannot be used; `where` says which app/task/port carried it. */
export class VipLabelError extends SextantError {
  constructor(
    readonly where: string,
    readonly key: string,
    readonly value: string,
    readonly reason: string,
  ) {
    super(`${where}: label ${key}=${JSON.stringify(value)}: ${reason}`);
  }
}

export type VipTarget = { kind: 'named'; label: string; port: number } | { kind: 'ip'; ip: string; port: number };

export function isVipPortLabel(key: string): boolean {
  return /^VIP/i.test(key) && !/^VIP_PORT\d+$/i.test(key);
}

/** `VIP_PORT3` -> 3, else undefined. */
export function vipPortLabelIndex(key: string): number | undefined {
  const m = /^VIP_PORT(\d+)$/i.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** `/mygroup/myapp` -> `mygroupmyapp` (DC/OS drops the slashes). */
export function vipLabelName(name: string): string {
  return name.replace(/\//g, '').toLowerCase();
}

export function parseProtocol(p: string | undefined, where: string, key: string, value: string): VipProtocol {
  const v = (p ?? 'tcp').trim().toLowerCase();
  if (v === 'tcp' || v === 'udp') return v;
  throw new VipLabelError(where, key, value, `protocol ${JSON.stringify(p)} is not tcp or udp`);
}

function parsePort(s: string, fail: (why: string) => never): number {
  if (!/^\d{1,5}$/.test(s)) fail(`port ${JSON.stringify(s)} is not a number`);
  const n = Number(s);
  if (n < 1 || n > 65535) fail(`port ${n} is out of range 1-65535`);
  return n;
}

/** Parse the value of a `VIP*` port label. */
export function parseVipValue(value: string, where = 'label', key = 'VIP'): VipTarget {
  const fail = (why: string): never => {
    throw new VipLabelError(where, key, value, why);
  };
  const v = value.trim();
  const cut = v.lastIndexOf(':');
  if (cut <= 0) fail('expected "/name:port" or "ip:port"');
  let host = v.slice(0, cut);
  const port = parsePort(v.slice(cut + 1), fail);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.startsWith('/')) return { kind: 'named', label: checkName(host, fail), port };
  if (ipaddr.isValid(host)) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(host) && !host.includes(':')) fail(`${host} is not a dotted-quad IPv4 address`);
    return { kind: 'ip', ip: ipaddr.parse(host).toString(), port };
  }
  if (/^[\d.]+$/.test(host) || host.includes(':')) fail(`${JSON.stringify(host)} is not a valid IP address`);
  return { kind: 'named', label: checkName(host, fail), port };
}

function checkName(host: string, fail: (why: string) => never): string {
  const label = vipLabelName(host);
  if (!label) fail('the VIP name is empty');
  if (!/^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$/.test(label)) fail(`VIP name ${JSON.stringify(host)} has characters not allowed in a DNS label`);
  return label;
}

/** Parse a `VIP_PORT<n>` task label value: `tcp://name:port` (scheme optional, tcp by default). */
export function parseVipPortLabel(value: string, where = 'task', key = 'VIP_PORT0'): VipTarget & { protocol: VipProtocol } {
  const m = /^([a-zA-Z]+):\/\/(.*)$/.exec(value.trim());
  const protocol = parseProtocol(m ? m[1] : 'tcp', where, key, value);
  const rest = m ? m[2]! : value;
  const target = parseVipValue(rest.startsWith('/') || !m ? rest : rest, where, key);
  return { ...target, protocol };
}

/** Where named VIPs get their addresses (DC/OS: 11.0.0.0/8); literal-IP VIPs may use them too. */
export const NAMED_VIP_RANGES: readonly string[] = ['11.0.0.0/8', 'fd01:c::/64'];
