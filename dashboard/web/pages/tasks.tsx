/** Tasks: state, agent, IPs, ports, health, and the task's stdout/stderr from its agent's sandbox. */
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { usePoll } from '../live.js';
import type { MarathonTask } from '../types.js';
import { ErrorLine, Section, Table } from '../ui.js';

function Log(props: { task: MarathonTask; file: 'stdout' | 'stderr'; close: () => void }) {
  const [text, setText] = useState<string>('loading…');
  const [err, setErr] = useState<string>();
  useEffect(() => {
    const path = `/${props.task.id}/${props.file}`;
    const url = (q: string) => `/agent/${encodeURIComponent(props.task.agentId)}/files/read?path=${encodeURIComponent(path)}&${q}`;
    // The last 64 KiB: the size first (offset=-1), then the tail.
    get<{ offset: number }>(url('offset=-1'))
      .then((s) => get<{ data: string }>(url(`offset=${Math.max(0, s.offset - 65536)}&length=65536`)))
      .then((r) => setText(r.data || '(empty)'), (e: Error) => setErr(e.message));
  }, [props.task.id, props.file]);
  return (
    <div class="log" role="dialog" data-testid="log">
      <div class="log-head">
        {props.file} of <code>{props.task.id}</code> <button onClick={props.close}>Close</button>
      </div>
      <ErrorLine error={err} />
      {!err && <pre>{text}</pre>}
    </div>
  );
}

export function Tasks() {
  const tasks = usePoll<{ tasks: MarathonTask[] }>('/marathon/v2/tasks');
  const [log, setLog] = useState<{ task: MarathonTask; file: 'stdout' | 'stderr' }>();
  const rows = (tasks.data?.tasks ?? []).map((t) => {
    const health = t.healthCheckResults?.length ? (t.healthCheckResults.every((h) => h.alive) ? 'healthy' : 'unhealthy') : 'no checks';
    return [
      <code class="task-id">{t.id}</code>,
      t.appId,
      <span class={`state ${t.state}`}>{t.state}</span>,
      <span>{t.host} <span class="note">{t.agentId}</span></span>,
      t.ipAddresses.map((i) => i.ipAddress).join(', '),
      t.ports.join(', ') || '—',
      <span class={health}>{health}</span>,
      <span>
        <a href="#" onClick={(e) => (e.preventDefault(), setLog({ task: t, file: 'stdout' }))}>stdout</a>{' '}
        <a href="#" onClick={(e) => (e.preventDefault(), setLog({ task: t, file: 'stderr' }))}>stderr</a>
      </span>,
    ];
  });
  return (
    <Section title="Tasks" id="tasks">
      <ErrorLine error={tasks.error} />
      <Table id="task-table" head={['task', 'app', 'state', 'agent', 'IPs', 'ports', 'health', 'logs']} rows={rows} empty="no tasks" />
      {log && <Log task={log.task} file={log.file} close={() => setLog(undefined)} />}
    </Section>
  );
}
