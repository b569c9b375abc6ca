/**
 * The peer to beat: a kube-proxy-style nftables ruleset (a chain per service and per endpoint,
 * one verdict map of service IPs), written from scratch here for the ratio, never used in production.
 */
import type { Service } from '../../l4lb/driver.js';

const svcChain = (i: number) => `svc_${i}`;
const epChain = (i: number, j: number) => `ep_${i}_${j}`;

function serviceChains(table: string, s: Service, i: number): string[] {
  const L: string[] = [];
  s.backends.forEach((b, j) => {
    L.push(`add chain ip ${table} ${epChain(i, j)}`, `flush chain ip ${table} ${epChain(i, j)}`);
    L.push(`add rule ip ${table} ${epChain(i, j)} ip saddr ${b.ip} mark set 0x4000`);
    L.push(`add rule ip ${table} ${epChain(i, j)} meta l4proto ${s.protocol} dnat to ${b.ip}:${b.port}`);
  });
  L.push(`add chain ip ${table} ${svcChain(i)}`, `flush chain ip ${table} ${svcChain(i)}`);
  const arms = s.backends.map((_, j) => `${j} : goto ${epChain(i, j)}`).join(', ');
  L.push(`add rule ip ${table} ${svcChain(i)} numgen random mod ${s.backends.length} vmap { ${arms} }`);
  return L;
}

export function baselineFull(table: string, services: Service[]): string {
  const L = [
    `add table ip ${table}`,
    `add map ip ${table} service_ips { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    `add chain ip ${table} services`,
    `add chain ip ${table} prerouting { type nat hook prerouting priority dstnat; }`,
    `add rule ip ${table} prerouting jump services`,
    `add rule ip ${table} services ip daddr . meta l4proto . th dport vmap @service_ips`,
  ];
  services.forEach((s, i) => L.push(...serviceChains(table, s, i)));
  for (let i = 0; i < services.length; i += 2000) {
    const els = services.slice(i, i + 2000).map((s, k) => `${s.vip} . ${s.protocol} . ${s.port} : goto ${svcChain(i + k)}`);
    L.push(`add element ip ${table} service_ips { ${els.join(', ')} }`);
  }
  return L.join('\n') + '\n';
}

/** kube-proxy rewrites the chains of the service that changed in one transaction. */
export function baselineChange(table: string, s: Service, i: number): string {
  return serviceChains(table, s, i).join('\n') + '\n';
}
