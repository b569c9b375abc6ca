/**
 * VIP metrics of the IPVS driver: the kernel's per real-server statistics, read at poll time with
 * `ipvsadm -Ln --stats --exact` (Conns, InBytes + OutBytes per destination). IPVS counts no failed
 * connects and measures no latency, so those figures are absent. A destination's counters start
 * when it is added: one removed and added again counts from zero (the aggregator sees a decrease).
 */
import type { DriverNetMetrics, Service } from '../driver.js';
import type { BackendMetrics, VipMetrics } from '../../contracts/netmetrics.js';
import { backendName, vipName } from './counters.js';

export const IPVS_MEASURES = { connections: true, failures: false, bytes: true, latency: false };
export const IPVSADM_STATS_ARGS = ['-Ln', '--stats', '--exact'];

export interface IpvsStat {
  /** `IP:PORT/PROTO` */
  vip: string;
  /** `IP:PORT` */
  backend: string;
  connections: number;
  bytes: number;
}

const SERVICE = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/;
const DEST = /^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/;

/** `IP:PORT` or `[IPv6]:PORT` -> parts; undefined when it is neither. */
function splitHostPort(s: string): { ip: string; port: number } | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  return m ? { ip: m[1]!.toLowerCase(), port: Number(m[2]) } : undefined;
}

/**
 * Parse `ipvsadm -Ln --stats --exact`. Lines it does not know (headers, FWM services, their
 * destinations) are skipped; a destination belongs to the service line above it.
 */
export function parseIpvsStats(text: string): IpvsStat[] {
  const out: IpvsStat[] = [];
  let vip: string | undefined;
  for (const line of text.split('\n')) {
    const s = SERVICE.exec(line);
    if (s) {
      const hp = splitHostPort(s[2]!);
      vip = hp ? vipName({ vip: hp.ip, port: hp.port, protocol: s[1]!.toLowerCase() }) : undefined;
      continue;
    }
    const d = DEST.exec(line);
    if (d && vip) {
      const hp = splitHostPort(d[1]!);
      if (hp) out.push({ vip, backend: backendName(hp), connections: Number(d[2]), bytes: Number(d[5]) + Number(d[6]) });
      continue;
    }
    if (/^\S/.test(line)) vip = undefined; // another kind of service (FWM) or a header
  }
  return out;
}

/** The programmed services' backends with what the kernel counted (zeros for a destination it has not). */
export function ipvsMetrics(stats: IpvsStat[], live: Service[], since: number): DriverNetMetrics {
  const got = new Map(stats.map((s) => [`${s.vip} ${s.backend}`, s]));
  const vips: VipMetrics[] = live.map((s) => {
    const vip = vipName(s);
    const backends: BackendMetrics[] = s.backends.map((b) => {
      const st = got.get(`${vip} ${backendName(b)}`);
      return { backend: backendName(b), connections: st?.connections ?? 0, bytes: st?.bytes ?? 0 };
    });
    return { vip, backends };
  });
  return { measures: IPVS_MEASURES, since, vips };
}
