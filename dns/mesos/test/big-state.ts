/** A large synthetic master state, shared by the fast-path tests and the Mesos-DNS benchmark (bench/dns/). */

/** A master state with `n` running tasks of `apps` Marathon apps on 100 agents. */
export function bigState(n: number, apps: number): Record<string, unknown> {
  const slaves = Array.from({ length: 100 }, (_, i) => ({ id: `S-${i}`, pid: `slave(1)@10.${i >> 8}.${i & 255}.1:5051` }));
  const tasks = Array.from({ length: n }, (_, i) => ({
    id: `app${i % apps}.${i}-uuid`, name: `app${i % apps}`, slave_id: `S-${i % 100}`, state: 'TASK_RUNNING',
    statuses: [{ state: 'TASK_RUNNING', timestamp: 1, container_status: { network_infos: [{ ip_addresses: [{ ip_address: `9.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }] }] } }],
    resources: { ports: `[${31000 + (i % 1000)}-${31000 + (i % 1000)}]` },
  }));
  return { leader: 'master@10.255.0.1:5050', slaves, frameworks: [{ name: 'marathon', pid: 'scheduler@10.255.0.1:8080', tasks }] };
}
