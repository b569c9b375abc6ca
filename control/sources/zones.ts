/**
 * The `zones` part: the `thisdcos.directory` records every dispatcher serves (DC/OS dcos-dns):
 *   <task>.<fw>.agentip.dcos.thisdcos.directory      A     agent IP
 *   <task>.<fw>.containerip.dcos.thisdcos.directory  A/AAAA container IPs
 *   <task>.<fw>.autoip.dcos.thisdcos.directory       A/AAAA container IPs, else the agent IP
 *   <label>.<fw>.l4lb.thisdcos.directory             A/AAAA the VIP (from the vips part)
 *   master.dcos.thisdcos.directory / leader.dcos.thisdcos.directory
 */
import { isIP } from 'node:net';
import type { MasterHandle } from '../../contracts/index.js';
import type { MasterEntry, PartSource, Vip, ZoneRecord } from '../../contracts/index.js';
import { runningTasks, sanitizeLabel } from './state.js';

export const DCOS_ZONE = 'dcos.thisdcos.directory';

function addr(name: string, ip: string): ZoneRecord | undefined {
  const v = isIP(ip);
  if (!v) return undefined;
  const type = v === 6 ? 'AAAA' : 'A';
  return { key: `${name}/${type}/${ip}`, name, type, data: ip };
}

/** Pure: records from Mesos state, VIP entries and the master list, sorted by key, no duplicates. */
export function zoneRecords(state: unknown, vips: readonly Vip[], masters: readonly MasterEntry[]): ZoneRecord[] {
  const out = new Map<string, ZoneRecord>();
  const put = (r: ZoneRecord | undefined) => r && out.set(r.key, r);
  for (const t of runningTasks(state)) {
    const task = sanitizeLabel(t.name);
    const fw = sanitizeLabel(t.framework);
    if (!task || !fw) continue;
    const base = `${task}.${fw}`;
    if (t.agentIp) put(addr(`${base}.agentip.${DCOS_ZONE}`, t.agentIp));
    for (const ip of t.containerIps) put(addr(`${base}.containerip.${DCOS_ZONE}`, ip));
    for (const ip of t.containerIps.length ? t.containerIps : t.agentIp ? [t.agentIp] : []) put(addr(`${base}.autoip.${DCOS_ZONE}`, ip));
  }
  for (const v of vips) if (v.dns_name) put(addr(v.dns_name.toLowerCase(), v.ip));
  for (const m of masters) {
    put(addr(`master.${DCOS_ZONE}`, m.ip));
    if (m.leader) put(addr(`leader.${DCOS_ZONE}`, m.ip));
  }
  return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export interface ZonesSourceDeps {
  /** The current `vips` source, if one is registered (looked up on every build). */
  vips?: () => PartSource<'vips'> | undefined;
  masters: PartSource<'masters'>;
}

/** The zones PartSource: rebuilt when master state, VIPs or masters change. */
export function zonesSource(handle: Pick<MasterHandle, 'state' | 'onChange'>, deps: ZonesSourceDeps): PartSource<'zones'> & { watchVips(s: PartSource<'vips'>): void } {
  const listeners = new Set<() => void>();
  const fire = () => listeners.forEach((fn) => fn());
  const offs: (() => void)[] = [];
  return {
    part: 'zones',
    async entries() {
      const vipSrc = deps.vips?.();
      const vips = vipSrc ? await vipSrc.entries() : [];
      return zoneRecords(handle.state(), vips, await deps.masters.entries());
    },
    onChange(fn) {
      listeners.add(fn);
      if (listeners.size === 1) offs.push(handle.onChange(fire), deps.masters.onChange(fire));
      return () => {
        listeners.delete(fn);
        if (!listeners.size) for (const off of offs.splice(0)) off();
      };
    },
    /** Also rebuild when this vips source changes (called when one is registered). */
    watchVips(s) {
      offs.push(s.onChange(fire));
      fire();
    },
  };
}
