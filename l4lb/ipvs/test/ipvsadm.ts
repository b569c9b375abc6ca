/** Parses `ipvsadm -Ln` output into driver services (plus scheduler and forwarding per service). */
import type { Service } from '../../driver.js';
import { normalize, serviceKey } from '../../services.js';

export interface IpvsadmService extends Service {
  sched: string;
  /** Forwarding method of each destination, in backend order (Masq, Route, Tunnel, Local). */
  forward: string[];
}

function hostPort(text: string): { ip: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m) throw new Error(`ipvsadm: cannot parse address ${JSON.stringify(text)}`);
  return { ip: m[1]!, port: Number(m[2]) };
}

export function parseIpvsadm(text: string): IpvsadmService[] {
  const out: { svc: Service; sched: string; fwd: Map<string, string> }[] = [];
  for (const line of text.split('\n')) {
    const s = /^(TCP|UDP)\s+(\S+)\s+(\S+)/.exec(line);
    if (s) {
      const { ip, port } = hostPort(s[2]!);
      const protocol = s[1] === 'TCP' ? 'tcp' : 'udp';
      out.push({ svc: { key: serviceKey(protocol, ip, port), vip: ip, port, protocol, backends: [] }, sched: s[3]!, fwd: new Map() });
      continue;
    }
    const d = /^\s+->\s+(\S+)\s+(\w+)\s+(\d+)\s+\d+\s+\d+/.exec(line);
    const cur = out[out.length - 1];
    if (d && cur) {
      const { ip, port } = hostPort(d[1]!);
      cur.svc.backends.push({ ip, port, weight: Number(d[3]) });
      cur.fwd.set(`${ip}|${port}`, d[2]!);
    }
  }
  return out.map(({ svc, sched, fwd }) => {
    const [n] = normalize([svc]);
    return { ...n!, sched, forward: n!.backends.map((b) => fwd.get(`${b.ip}|${b.port}`) ?? '?') };
  }).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
