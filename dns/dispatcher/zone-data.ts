/**
 * Turn zone records (control-plane `zones` part, a zone file, built-ins) into typed resource
 * records grouped by name and type. Pure; throws naming the bad record, so a bad update changes
 * nothing.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { ZoneRecord, ZoneRecordType } from '../../contracts/index.js';
import { SextantError } from '../../common/errors.js';
import { LOCAL_ZONES } from './routes.js';
import type { ResourceRecord } from './wire.js';

export const LOCAL_TTL = 5;
export const SOA_MNAME = 'ns.spartan';
export const SOA_RNAME = 'hostmaster.spartan';

export class ZoneRecordError extends SextantError {
  constructor(
    readonly record: string,
    readonly reason: string,
  ) {
    super(`zone record ${record}: ${reason}`);
  }
}

/** The local zone a name belongs to, or undefined. */
export function apexOf(name: string): string | undefined {
  for (const z of LOCAL_ZONES) if (name === z || name.endsWith('.' + z)) return z;
  return undefined;
}

export function toResourceRecord(r: Pick<ZoneRecord, 'name' | 'type' | 'data'>): ResourceRecord {
  const name = r.name.toLowerCase().replace(/\.$/, '');
  const fail = (why: string): never => {
    throw new ZoneRecordError(`${r.name}/${r.type}/${r.data}`, why);
  };
  if (!/^[a-z0-9_*-]{1,63}(\.[a-z0-9_-]{1,63})*$/.test(name)) fail('name is not a domain name');
  if (!apexOf(name)) fail(`name is outside the local zones (${LOCAL_ZONES.join(', ')})`);
  const ttl = LOCAL_TTL;
  switch (r.type as ZoneRecordType) {
    case 'A':
      return isIPv4(r.data) ? { type: 'A', name, ttl, address: r.data } : fail('A data must be an IPv4 address');
    case 'AAAA':
      return isIPv6(r.data) ? { type: 'AAAA', name, ttl, address: r.data } : fail('AAAA data must be an IPv6 address');
    case 'CNAME':
      return /^[a-zA-Z0-9_.-]+$/.test(r.data) ? { type: 'CNAME', name, ttl, target: r.data.replace(/\.$/, '') } : fail('CNAME data must be a name');
    case 'TXT':
      return r.data.length <= 255 ? { type: 'TXT', name, ttl, texts: [r.data] } : fail('TXT data over 255 bytes');
    case 'SRV': {
      const m = /^(\d+)\s+(\d+)\s+(\d+)\s+([a-zA-Z0-9_.-]+)$/.exec(r.data.trim());
      if (!m) return fail('SRV data must be "priority weight port target"');
      const [p, w, port] = [Number(m[1]), Number(m[2]), Number(m[3])];
      if (p > 65535 || w > 65535 || port > 65535) fail('SRV numbers must be 0-65535');
      return { type: 'SRV', name, ttl, priority: p, weight: w, port, target: m[4]!.replace(/\.$/, '') };
    }
    default:
      return fail(`unsupported type ${String(r.type)}`);
  }
}

/** Records every dispatcher serves: SOA/NS at each apex, ready.spartan/ns.spartan, localhost. */
export function builtinRecords(bindIps: string[], serial: number): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const z of LOCAL_ZONES) {
    out.push({ type: 'SOA', name: z, ttl: LOCAL_TTL, mname: SOA_MNAME, rname: SOA_RNAME, serial, refresh: 60, retry: 180, expire: 86400, minimum: LOCAL_TTL });
    out.push({ type: 'NS', name: z, ttl: LOCAL_TTL, target: SOA_MNAME });
  }
  for (const ip of bindIps) {
    const type = isIPv6(ip) ? 'AAAA' : 'A';
    out.push({ type, name: 'ready.spartan', ttl: LOCAL_TTL, address: ip }, { type, name: 'ns.spartan', ttl: LOCAL_TTL, address: ip });
  }
  out.push({ type: 'A', name: 'localhost', ttl: LOCAL_TTL, address: '127.0.0.1' }, { type: 'AAAA', name: 'localhost', ttl: LOCAL_TTL, address: '::1' });
  return out;
}
