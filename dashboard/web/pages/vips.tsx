/** Network → VIPs: each VIP, its backends with weight and health, and which agents applied the current version. */
import { useLive, usePoll } from '../live.js';
import type { MarathonTask, Series, Vip } from '../types.js';
import { Chart } from '../chart.js';
import { ErrorLine, Section, Table } from '../ui.js';

export function Vips() {
  const live = useLive();
  const vips = usePoll<{ vips: Vip[]; problems: { where: string; reason: string }[] }>('/net/v1/l4lb/vips');
  const tasks = usePoll<{ tasks: MarathonTask[] }>('/marathon/v2/tasks');
  const series = usePoll<Series>('/net/v1/dashboard/series', 5000);
  const byId = new Map((tasks.data?.tasks ?? []).map((t) => [t.id, t]));
  const health = (id?: string) => {
    const t = id ? byId.get(id) : undefined;
    if (!t) return 'unknown';
    if (t.state !== 'TASK_RUNNING') return t.state;
    return t.healthCheckResults?.length ? (t.healthCheckResults.every((h) => h.alive) ? 'healthy' : 'unhealthy') : 'running';
  };
  const cs = live.control_status;
  const rows = (vips.data?.vips ?? []).map((v) => [
    <span class="vip-name">{v.name ? `${v.name}:${v.port}` : '(address)'}</span>,
    <code class="vip-addr">{v.ip.includes(':') ? `[${v.ip}]` : v.ip}:{v.port}</code>,
    v.protocol,
    v.dns_name ? <code>{v.dns_name}</code> : '—',
    <ul class="backends" data-vip={v.name ?? v.key}>
      {v.backends.map((b) => (
        <li key={`${b.ip}:${b.port}`} class="backend">
          <code>{b.ip}:{b.port}</code> weight {b.weight} <span class={`health ${health(b.task_id)}`}>{health(b.task_id)}</span>
        </li>
      ))}
    </ul>,
  ]);
  const agents = (cs?.agents ?? []).map((a) => [
    a.agent_id,
    a.connected ? 'connected' : 'disconnected',
    <span class={a.applied >= (cs?.version ?? 0) ? 'ok' : 'warn'}>{a.applied >= (cs?.version ?? 0) ? `applied v${a.applied} (current)` : `at v${a.applied}, behind by ${a.lag}`}</span>,
    a.error ? <span class="error">v{a.failed}: {a.error}</span> : '—',
  ]);
  const conv = series.data?.convergence ?? [];
  return (
    <div>
      <Section title="VIPs" id="vips">
        <ErrorLine error={vips.error} />
        <Table id="vip-table" head={['name', 'address', 'protocol', 'DNS name', 'backends']} rows={rows} empty="no VIPs: give an app port a VIP_0 label" />
        {(vips.data?.problems ?? []).map((p) => <p class="warn">{p.where}: {p.reason}</p>)}
      </Section>
      <Section title={`Control plane: version ${cs?.version ?? '?'}`} id="control">
        {live.control === 'down' && <p class="error">control-plane status unavailable: {live.controlError}</p>}
        <Table id="agent-versions" head={['agent', 'stream', 'version', 'last error']} rows={agents} empty="no agents connected" />
      </Section>
      <Section title="Charts" id="vip-charts">
        <ErrorLine error={series.error} />
        <Chart
          id="chart-convergence"
          title="Control-plane convergence: change → all agents applied (last hour)"
          unit="ms"
          dots
          empty="no version has reached every agent yet"
          t={conv.filter((c) => c.seconds !== null).map((c) => c.changed_at / 1000)}
          series={{ 'ms from change to all applied': conv.filter((c) => c.seconds !== null).map((c) => Math.round(c.seconds! * 1000)) }}
        />
        <Chart id="chart-l4lb-open" title="VIP connections relayed now (userspace L4LB), per agent" unit="connections" empty="no agent runs the userspace L4LB, the driver that counts connections (per-VIP rates come with /net/v1/vips)" t={series.data?.t ?? []} series={series.data?.l4lb_open ?? {}} />
        <Chart id="chart-l4lb-backends" title="Backend spread: active backends programmed, per agent" unit="backends" t={series.data?.t ?? []} series={series.data?.l4lb_backends ?? {}} />
      </Section>
    </div>
  );
}
