/**
 * Runs INSIDE User-Mode-Linux (from inside.uml.ts): throughput (iperf3) and connection rate (wrk)
 * through an IPVS VIP against the same backend reached directly, from the UML kernel's main
 * namespace (where the ipvs driver programs the VIP) to a backend namespace over a veth. Direct
 * and VIP runs alternate; the HTTP VIP uses its own server port so the two paths never share a
 * 4-tuple.
 */
import { execFileSync } from 'node:child_process';
import { IpvsDriver } from '../../../l4lb/ipvs/driver.js';
import type { Service } from '../../../l4lb/driver.js';
import { httpServer, iperf, iperfServer, withProcs, wrk } from '../traffic.js';
import { alternate, type Pair } from '../../lib/pairs.js';

/** More iperf pairs than on the host: one UML CPU shared with the host's load swings more. */
export const UML_IPERF_RUNS = 11;
export const UML_WRK_RUNS = 15;

const NS = 'bt';
const GW = '10.9.9.1';
const BACKEND = '10.9.9.2';
const VIP = '11.0.9.1';

const sh = (...argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });

function backendNamespace(): void {
  sh('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=1024 65000');
  sh('ip', 'netns', 'add', NS);
  sh('ip', 'link', 'add', `v${NS}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS);
  sh('ip', 'addr', 'add', `${GW}/24`, 'dev', `v${NS}`);
  sh('ip', 'link', 'set', `v${NS}`, 'up');
  sh('ip', '-n', NS, 'addr', 'add', `${BACKEND}/24`, 'dev', 'eth0');
  sh('ip', '-n', NS, 'link', 'set', 'eth0', 'up');
  sh('ip', '-n', NS, 'link', 'set', 'lo', 'up');
  sh('ip', '-n', NS, 'route', 'add', 'default', 'via', GW);
}

const vip = (port: number, backendPort: number): Service => ({ key: `tcp/${VIP}:${port}`, vip: VIP, port, protocol: 'tcp', backends: [{ ip: BACKEND, port: backendPort, weight: 1 }] });

export async function ipvsTraffic(): Promise<{ tput: Pair; conn: Pair }> {
  backendNamespace();
  try {
    return await withProcs([iperfServer(NS, BACKEND, 5201), httpServer(NS, BACKEND, 8080), httpServer(NS, BACKEND, 8081)], async () => {
      // The node's address, as the agent passes its own: the client's flows skip the hairpin MASQUERADE.
      const d = new IpvsDriver({ iptables: 'iptables-legacy', nodeIp: GW });
      await d.start();
      try {
        await d.apply([vip(5201, 5201), vip(8080, 8081)]);
        const gbps = (host: string) => () => iperf(undefined, host, 5201).then((r) => r.gbps);
        const rps = (url: string) => () => wrk(undefined, url).then((r) => r.rps);
        const tput = await alternate(UML_IPERF_RUNS, gbps(BACKEND), gbps(VIP));
        const conn = await alternate(UML_WRK_RUNS, rps(`http://${BACKEND}:8080/`), rps(`http://${VIP}:8080/`));
        await d.apply([]);
        return { tput, conn };
      } finally {
        await d.stop();
      }
    });
  } finally {
    sh('ip', 'netns', 'del', NS);
  }
}
