/**
 * `zk://` URLs and the znodes Mesos masters write under that path: parsing only (no I/O besides
 * the reachability check `checkZk` logs at start). The live detector is zk-detector.ts.
 *
 * Mesos >= 0.24 masters each hold an ephemeral sequential znode `json.info_<seq>` with their
 * MasterInfo as JSON; the leader is the one with the lowest sequence number. Older masters write
 * protobuf `info_<seq>` znodes, which are ignored (logged).
 */
import net from 'node:net';
import type { Logger } from '../../common/log.js';
import { SextantError } from '../../common/errors.js';

import { parseZkUrl, type ZkUrl } from '../../common/zk-url.js';
export { parseZkUrl, type ZkUrl };

/** A znode that is not usable as MasterInfo (bad JSON, missing fields). */
export class ZnodeError extends SextantError {
  constructor(readonly znode: string, why: string) {
    super(`znode ${znode}: ${why}`);
  }
}

export type ZnodeKind = 'json' | 'protobuf' | 'other';

/** Sequence number and kind of a child name under the Mesos path. */
export function znodeSeq(name: string): { kind: ZnodeKind; seq: number } {
  const m = /^(json\.)?info_(\d+)$/.exec(name);
  if (!m) return { kind: 'other', seq: -1 };
  return { kind: m[1] ? 'json' : 'protobuf', seq: Number(m[2]) };
}

/** The `json.info_` children, lowest sequence (the leader) first. */
export function leaderOrder(children: string[]): string[] {
  return children
    .filter((c) => znodeSeq(c).kind === 'json')
    .sort((a, b) => znodeSeq(a).seq - znodeSeq(b).seq || (a < b ? -1 : 1));
}

/** MasterInfo.ip is a uint32 holding the address bytes in network order (little-endian host). */
export function uint32ToIp(n: number): string {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function isPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p > 0 && p <= 65535;
}

function joinHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * `host:port` of a master from its JSON MasterInfo: `address.ip`, else `address.hostname`, with
 * `address.port`; else the top-level `ip` (uint32) or `hostname` with `port`.
 */
export function masterInfoAddress(znode: string, data: Buffer | string | undefined): string {
  if (data === undefined || data.length === 0) throw new ZnodeError(znode, 'empty');
  let info: unknown;
  try {
    info = JSON.parse(data.toString());
  } catch (e) {
    throw new ZnodeError(znode, `not JSON: ${(e as Error).message}`);
  }
  if (!info || typeof info !== 'object' || Array.isArray(info)) throw new ZnodeError(znode, 'not a JSON object');
  const i = info as { address?: unknown; ip?: unknown; hostname?: unknown; port?: unknown };
  if (i.address && typeof i.address === 'object') {
    const a = i.address as { ip?: unknown; hostname?: unknown; port?: unknown };
    const host = typeof a.ip === 'string' && net.isIP(a.ip) ? a.ip : typeof a.hostname === 'string' && a.hostname ? a.hostname : undefined;
    if (host && isPort(a.port)) return joinHostPort(host, a.port);
  }
  if (isPort(i.port)) {
    if (typeof i.ip === 'number' && Number.isInteger(i.ip) && i.ip > 0 && i.ip <= 0xffffffff) return joinHostPort(uint32ToIp(i.ip), i.port);
    if (typeof i.hostname === 'string' && i.hostname) return joinHostPort(i.hostname, i.port);
  }
  throw new ZnodeError(znode, 'no address.ip/address.hostname with address.port, nor ip/hostname with port');
}

function reachable(host: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Log, at start, which ensemble hosts answer a TCP connect (a diagnostic only: the detector that
 * the Poller starts keeps retrying). Never throws for an unreachable ensemble.
 */
export async function checkZk(url: string, masters: string[], log: Logger): Promise<void> {
  const zk = parseZkUrl(url);
  const up = await Promise.all(zk.hosts.map((h) => reachable(h.host, h.port)));
  const reach = zk.hosts.filter((_, i) => up[i]).map((h) => `${h.host}:${h.port}`);
  const fields = { zk: url.replace(/\/\/[^@/]*@/, '//******@'), path: zk.path, reachable: reach, masters_fallback: masters.length ? masters : 'none' };
  if (reach.length) log.info('zk_detection', fields);
  else log.warn('zk_unreachable_at_start', { ...fields, why: 'no ZooKeeper host answered a TCP connect; retrying in the background' });
}
