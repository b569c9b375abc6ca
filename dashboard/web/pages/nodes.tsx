/** Nodes: agents, resources used and free, component health (diagnostics), the L4LB driver. */
import { usePoll } from '../live.js';
import { agentIp, type MesosState, type Series, type Slave } from '../types.js';
import { ErrorLine, Section, Table } from '../ui.js';

interface HealthNode {
  host_ip: string;
  health: number;
  role?: string;
}
interface HealthUnit {
  id: string;
  name?: string;
  health: number;
  output?: string;
}

const num = (r: Record<string, unknown> | undefined, k: string) => (typeof r?.[k] === 'number' ? (r[k] as number) : 0);
const LIVE = new Set(['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING']);

/** What the agent's live tasks hold: Mesos's `used_resources` when the master gives it, else summed from the tasks. */
function usedOf(st: MesosState, s: Slave, k: string): number {
  if (s.used_resources) return num(s.used_resources, k);
  let sum = 0;
  for (const f of st.frameworks ?? []) for (const t of f.tasks ?? []) if (t.slave_id === s.id && LIVE.has(t.state)) sum += num(t.resources, k);
  return sum;
}

function res(st: MesosState, s: Slave, k: string, unit = '') {
  const total = num(s.resources, k);
  const used = usedOf(st, s, k);
  const f = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
  return `${f(used)} / ${f(total)}${unit} (${f(total - used)} free)`;
}

function Units(props: { ip: string }) {
  const u = usePoll<{ units: HealthUnit[] }>(`/system/health/v1/nodes/${props.ip}/units`, 10000);
  if (u.error) return <span class="note">{u.error}</span>;
  return (
    <ul class="units">
      {(u.data?.units ?? []).map((x) => <li key={x.id} class={x.health === 0 ? 'ok' : 'error'}>{x.name ?? x.id}: {x.health === 0 ? 'healthy' : 'unhealthy'}</li>)}
    </ul>
  );
}

export function Nodes() {
  const state = usePoll<MesosState>('/mesos/master/state', 5000);
  const health = usePoll<{ nodes: HealthNode[] }>('/system/health/v1/nodes', 10000);
  const series = usePoll<Series>('/net/v1/dashboard/series', 10000);
  const diag = !health.error && health.data;
  const rows = (state.data?.slaves ?? []).map((s) => {
    const ip = agentIp(s);
    const n = series.data?.nodes?.[s.id];
    return [
      <span class="node">{s.hostname} <span class="note">{s.id}</span></span>,
      ip,
      res(state.data!, s, 'cpus'),
      res(state.data!, s, 'mem', ' MB'),
      n?.l4lb_driver ?? '—',
      n?.overlay_kernel ?? '—',
      diag ? <Units ip={ip} /> : <span class="note">—</span>,
    ];
  });
  return (
    <Section title="Nodes" id="nodes">
      <ErrorLine error={state.error} />
      {!diag && (
        <p class="warn" id="diag-missing">
          diagnostics not available: <code>/system/health/v1</code> answered {health.status ? `HTTP ${health.status}` : health.error ?? 'nothing'}, so component health is not shown.
        </p>
      )}
      <Table id="node-table" head={['agent', 'IP', 'CPUs used / total', 'memory used / total', 'L4LB driver', 'overlay kernel', 'components']} rows={rows} empty="no agents registered" />
    </Section>
  );
}
