/** DNS: resolve a name as a task on a chosen agent would (its dispatcher), and queries per second per server. */
import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { Chart } from '../chart.js';
import { usePoll } from '../live.js';
import { agentIp, type MesosState, type Series } from '../types.js';
import { Action, Section, Table } from '../ui.js';

interface Reply {
  agent_id: string;
  server: string;
  transport: string;
  rcodeName: string;
  ms: number;
  answers: { name: string; ttl: number; type: string; data: string }[];
}

export function Dns() {
  const state = usePoll<MesosState>('/mesos/master/state', 10000);
  const series = usePoll<Series>('/net/v1/dashboard/series', 5000);
  const [q, setQ] = useState({ agent: '', name: 'web.marathon.l4lb.thisdcos.directory', type: 'A' });
  const [reply, setReply] = useState<Reply>();
  const agents = state.data?.slaves ?? [];
  const agent = q.agent || agents[0]?.id || '';
  return (
    <div>
      <Section title="Resolve as a task would" id="dns">
        <div class="form-row">
          <label>
            agent
            <select name="agent" value={agent} onChange={(e) => setQ({ ...q, agent: (e.target as HTMLSelectElement).value })}>
              {agents.map((s) => <option key={s.id} value={s.id}>{s.hostname} ({agentIp(s)})</option>)}
            </select>
          </label>
          <label>
            name <input name="name" size={40} value={q.name} onInput={(e) => setQ({ ...q, name: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            type
            <select name="type" value={q.type} onChange={(e) => setQ({ ...q, type: (e.target as HTMLSelectElement).value })}>
              {['A', 'AAAA', 'SRV', 'CNAME', 'TXT'].map((t) => <option key={t}>{t}</option>)}
            </select>
          </label>
          <Action label="Resolve" testid="resolve" run={async () => {
            setReply(undefined);
            setReply(await get<Reply>(`/net/v1/dns/query?agent=${encodeURIComponent(agent)}&name=${encodeURIComponent(q.name)}&type=${q.type}`));
          }} />
        </div>
        {reply && (
          <div id="dns-reply">
            <p>
              <b>{reply.rcodeName}</b> from <code class="dns-server">{reply.server}</code> ({reply.transport}, {reply.ms.toFixed(1)} ms), the dispatcher of agent {reply.agent_id}
            </p>
            <Table head={['name', 'TTL', 'type', 'data']} rows={reply.answers.map((a) => [a.name, a.ttl, a.type, <code class="dns-data">{a.data}</code>])} empty="no answer records" />
          </div>
        )}
      </Section>
      <Section title="Queries per second per server" id="dns-charts">
        <Chart id="chart-dns" title="DNS queries per second (Mesos-DNS and each agent's dispatcher)" unit="queries/s" t={series.data?.t ?? []} series={series.data?.dns ?? {}} />
      </Section>
    </div>
  );
}
