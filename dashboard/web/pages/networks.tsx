/** Network → Networks: subnets per agent with addresses used and free, isolation rules with packet counters. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { usePoll } from '../live.js';
import type { Isolation, MarathonTask, Network } from '../types.js';
import { Action, ErrorLine, Section, Table } from '../ui.js';

function v4(ip: string): number | undefined {
  const p = ip.split('.').map(Number);
  return p.length === 4 && p.every((x) => Number.isInteger(x) && x >= 0 && x < 256) ? ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]! : undefined;
}

/** Task addresses in `cidr` and how many are left (network, bridge gateway and broadcast excluded). */
export function usage(cidr: string, ips: string[]): { used: number; free: number } | undefined {
  const [base, len] = cidr.split('/');
  const b = v4(base ?? '');
  const n = Number(len);
  if (b === undefined || !Number.isInteger(n) || n < 0 || n > 32) return undefined;
  const size = 2 ** (32 - n);
  const used = ips.filter((ip) => {
    const x = v4(ip);
    return x !== undefined && x >= b && x < b + size;
  }).length;
  return { used, free: Math.max(0, size - 3 - used) };
}

function AddRule(props: { networks: string[]; done: () => void }) {
  const [r, setR] = useState({ from: '', to: '', ports: '', protocol: 'tcp' });
  const [p, setP] = useState({ network: '', default: 'deny' });
  const sel = (value: string, on: (v: string) => void, name: string, opts: string[]) => (
    <select name={name} value={value} onChange={(e) => on((e.target as HTMLSelectElement).value)}>
      <option value="">{name}…</option>
      {opts.map((o) => <option key={o} value={o}>{o}</option>)}
    </select>
  );
  return (
    <div class="forms">
      <div class="form-row" id="add-rule">
        allow {sel(r.from, (from) => setR({ ...r, from }), 'from', props.networks)} → {sel(r.to, (to) => setR({ ...r, to }), 'to', props.networks)}
        <input name="ports" placeholder="ports, e.g. 80,443 (empty: all)" value={r.ports} onInput={(e) => setR({ ...r, ports: (e.target as HTMLInputElement).value })} />
        {sel(r.protocol, (protocol) => setR({ ...r, protocol }), 'protocol', ['tcp', 'udp'])}
        <Action label="Add rule" testid="add-rule" run={async () => {
          const ports = r.ports.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
          await api('POST', '/net/v1/networks/isolation', { from: r.from, to: r.to, ...(ports.length ? { ports } : {}), ...(r.protocol ? { protocol: r.protocol } : {}) });
          props.done();
        }} />
      </div>
      <div class="form-row" id="set-default">
        network {sel(p.network, (network) => setP({ ...p, network }), 'network', props.networks)} default
        {sel(p.default, (d) => setP({ ...p, default: d }), 'default', ['deny', 'allow'])}
        <Action label="Set default" testid="set-default" run={async () => (await api('POST', '/net/v1/networks/isolation', p), props.done())} />
      </div>
    </div>
  );
}

export function Networks() {
  const nets = usePoll<{ networks: Network[] }>('/net/v1/networks');
  const iso = usePoll<Isolation>('/net/v1/networks/isolation', 2000);
  const tasks = usePoll<{ tasks: MarathonTask[] }>('/marathon/v2/tasks');
  const ips = (tasks.data?.tasks ?? []).flatMap((t) => t.ipAddresses.map((i) => i.ipAddress));
  const reload = () => iso.reload();
  const netRows = (nets.data?.networks ?? []).flatMap((n) =>
    (n.agents.length ? n.agents : [undefined]).map((a) => {
      const u = a ? usage(a.bridge, ips) : undefined;
      return [n.name, n.subnet ?? '—', a?.agent_id ?? 'no agent yet', a ? <code>{a.subnet}</code> : '—', a ? <code>{a.bridge}</code> : '—', u ? `${u.used} used, ${u.free} free` : '—'];
    }),
  );
  const policyRows = (iso.data?.policies ?? []).map((p) => [
    <span>{p.network}</span>,
    <span class={p.default}>{p.default}</span>,
    <span class="packets" data-key={`default:${p.network}`}>{p.packets}</span>,
    p.bytes,
    p.default === 'deny' ? <Action label="Remove" run={async () => (await api('DELETE', `/net/v1/networks/isolation?network=${encodeURIComponent(p.network)}`), reload())} /> : '',
  ]);
  const ruleRows = (iso.data?.rules ?? []).map((r) => [
    <code>{r.key}</code>,
    `${r.from} → ${r.to}`,
    `${r.protocol ?? 'any'} ${r.ports?.join(',') ?? 'all ports'}`,
    <span class="packets" data-key={r.key}>{r.packets}</span>,
    r.bytes,
    <Action label="Remove" kind="danger" confirm={`Remove rule ${r.key}?`} run={async () => (await api('DELETE', `/net/v1/networks/isolation?rule=${encodeURIComponent(r.key)}`), reload())} />,
  ]);
  return (
    <div>
      <Section title="Virtual networks" id="networks">
        <ErrorLine error={nets.error} />
        <Table id="network-table" head={['network', 'subnet', 'agent', 'agent slice', 'task bridge', 'addresses']} rows={netRows} empty="no virtual networks" />
      </Section>
      <Section title="Isolation" id="isolation">
        <ErrorLine error={iso.error} />
        <p class="note">packet counters summed over agents: {(iso.data?.counters_from ?? []).join(', ') || 'none answered'}</p>
        <h3>Network defaults</h3>
        <Table id="policy-table" head={['network', 'default', 'packets', 'bytes', '']} rows={policyRows} />
        <h3>Allow rules</h3>
        <Table id="rule-table" head={['rule', 'between', 'ports', 'packets', 'bytes', '']} rows={ruleRows} empty="no rules" />
        <AddRule networks={(nets.data?.networks ?? []).map((n) => n.name)} done={reload} />
      </Section>
    </div>
  );
}
