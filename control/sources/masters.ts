/**
 * The `masters` part: the master list agents need (dispatchers forward `*.mesos` to every
 * master's Mesos-DNS; control clients may hash over them). Under ZooKeeper every contender of the
 * election (MasterHandle.election: id, ip and port from its MasterInfo, `leader` for the elected
 * one); always this master, the leader named in the Mesos state, and any configured peers. One
 * entry per IP (the first seen: the election's, then this master's, the state's, the peers'),
 * sorted by IP.
 */
import type { MasterHandle } from '../../contracts/index.js';
import { DEFAULT_PORTS } from '../../contracts/index.js';
import type { MasterEntry, PartSource } from '../../contracts/index.js';
import { leaderIp } from './state.js';

export interface MastersSourceOptions {
  controlPort?: number;
  dnsPort?: number;
  /** Other masters (HA), as `ip` or `ip:port` of their Mesos API. */
  peers?: string[];
}

type MastersHandle = Pick<MasterHandle, 'masterId' | 'ip' | 'port' | 'state' | 'election'>;

export function masterEntries(handle: MastersHandle, opts: MastersSourceOptions = {}): MasterEntry[] {
  const contenders = handle.election?.masters() ?? [];
  const leader = contenders.find((m) => m.leader)?.ip ?? leaderIp(handle.state());
  const control_port = opts.controlPort ?? DEFAULT_PORTS.control;
  const dns_port = opts.dnsPort ?? DEFAULT_PORTS.mesosDnsDns;
  const byIp = new Map<string, MasterEntry>();
  const add = (id: string, ip: string, port: number) => {
    if (!byIp.has(ip)) byIp.set(ip, { key: ip, id, ip, port, control_port, dns_port, leader: ip === leader });
  };
  for (const m of contenders) add(m.id, m.ip, m.port);
  add(handle.masterId, handle.ip, handle.port);
  if (leader) add(`leader@${leader}`, leader, DEFAULT_PORTS.master);
  for (const p of opts.peers ?? []) {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(p);
    if (m?.[1]) add(`master@${m[1]}`, m[1], m[2] ? Number(m[2]) : DEFAULT_PORTS.master);
  }
  // A single master without a leader field is the leader.
  if (!leader && byIp.size === 1) for (const e of byIp.values()) e.leader = true;
  return [...byIp.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Rebuilt after a change of the master state or of the election's contenders. */
export function mastersSource(handle: MastersHandle & Pick<MasterHandle, 'onChange'>, opts: MastersSourceOptions = {}): PartSource<'masters'> {
  return {
    part: 'masters',
    entries: () => masterEntries(handle, opts),
    onChange(fn) {
      const offs = [handle.onChange(fn), ...(handle.election ? [handle.election.onChange(fn)] : [])];
      return () => offs.forEach((off) => off());
    },
  };
}
