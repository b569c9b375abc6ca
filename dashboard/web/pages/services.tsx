/** Services: Marathon apps with instances, VIPs and DNS names; deploy, scale, restart, destroy. */
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { usePoll } from '../live.js';
import { appLabel, vipLabels, type MarathonApp, type Vip } from '../types.js';
import { Action, ErrorLine, Section, Table } from '../ui.js';

const EXAMPLE = {
  id: '/web',
  cmd: 'exec python3 -m http.server $PORT0',
  instances: 2,
  cpus: 0.1,
  mem: 64,
  portDefinitions: [{ port: 0, protocol: 'tcp', name: 'http', labels: { VIP_0: '/web:80' } }],
};

function Deploy(props: { done: () => void }) {
  const [text, setText] = useState(JSON.stringify(EXAMPLE, null, 2));
  const [form, setForm] = useState({ id: EXAMPLE.id, cmd: EXAMPLE.cmd, instances: '2', vip: '/web:80', network: '' });
  const [msg, setMsg] = useState<string>();
  const fromForm = (f: typeof form) => {
    const app: Record<string, unknown> = { id: f.id, cmd: f.cmd, instances: Number(f.instances), cpus: 0.1, mem: 64 };
    const labels = f.vip ? { VIP_0: f.vip } : undefined;
    if (f.network) {
      app.networks = [{ mode: 'container', name: f.network }];
      app.container = { type: 'MESOS', portMappings: [{ containerPort: 8080, name: 'http', ...(labels ? { labels } : {}) }] };
    } else app.portDefinitions = [{ port: 0, protocol: 'tcp', name: 'http', ...(labels ? { labels } : {}) }];
    setText(JSON.stringify(app, null, 2));
  };
  const field = (k: keyof typeof form, label: string, placeholder = '') => (
    <label>
      {label}
      <input name={k} value={form[k]} placeholder={placeholder} onInput={(e) => {
        const f = { ...form, [k]: (e.target as HTMLInputElement).value };
        setForm(f);
        fromForm(f);
      }} />
    </label>
  );
  const deploy = async () => {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new Error(`the app JSON does not parse: ${(e as Error).message}`);
    }
    await api('POST', '/marathon/v2/apps', body);
    setMsg(`deployed ${(body as { id?: string }).id}`);
    props.done();
  };
  return (
    <Section title="Deploy an app" id="deploy">
      <div class="form-row">
        {field('id', 'id', '/web')}
        {field('cmd', 'command')}
        {field('instances', 'instances')}
        {field('vip', 'VIP label', '/web:80')}
        {field('network', 'virtual network', 'dcos (empty: host)')}
      </div>
      <textarea name="app-json" rows={10} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
      <div>
        <Action label="Deploy" testid="deploy" run={deploy} />
        {msg && <span class="ok">{msg}</span>}
      </div>
    </Section>
  );
}

function Scale(props: { app: MarathonApp; done: () => void }) {
  const [n, setN] = useState(String(props.app.instances));
  return (
    <span class="scale">
      <input class="narrow" name="instances" value={n} onInput={(e) => setN((e.target as HTMLInputElement).value)} />
      <Action label="Scale" run={async () => {
        const instances = Number(n);
        if (!Number.isInteger(instances) || instances < 0) throw new Error(`instances must be a whole number >= 0, got '${n}'`);
        await api('PUT', `/marathon/v2/apps${props.app.id}`, { instances });
        props.done();
      }} />
    </span>
  );
}

export function Services() {
  const apps = usePoll<{ apps: MarathonApp[] }>('/marathon/v2/apps?embed=apps.tasks');
  const vips = usePoll<{ vips: Vip[] }>('/net/v1/l4lb/vips');
  const reload = () => apps.reload();
  const rows = (apps.data?.apps ?? []).map((a) => {
    const labels = vipLabels(a);
    const named = (vips.data?.vips ?? []).filter((v) => v.name && labels.some((l) => l.startsWith(`${v.name}:`)));
    const literal = labels.filter((l) => !l.startsWith('/'));
    return [
      <b class="app-id">{a.id}</b>,
      <span class="instances" data-app={a.id}>
        {a.tasksRunning}/{a.instances} running, {a.tasksHealthy} healthy, {a.tasksStaged} staged
        {a.deployments?.length ? <span class="badge">deploying</span> : null}
        {a.lastTaskFailure?.message ? <div class="note">last failure: {a.lastTaskFailure.message}</div> : null}
      </span>,
      <span class="vips">
        {labels.length === 0 ? '—' : null}
        {named.map((v) => <div key={v.key}>{v.name}:{v.port} → <code>{v.ip}:{v.port}</code></div>)}
        {labels.filter((l) => l.startsWith('/') && !named.some((v) => l.startsWith(`${v.name}:`))).map((l) => <div key={l}>{l} <span class="note">(no address yet)</span></div>)}
        {literal.map((l) => <div key={l}><code>{l}</code></div>)}
      </span>,
      <span class="dns">
        <div><code>{appLabel(a.id)}.marathon.mesos</code></div>
        {named.map((v) => v.dns_name && <div key={v.key}><code>{v.dns_name}</code></div>)}
        {a.networks?.[0]?.mode === 'container' && <div><code>{appLabel(a.id)}.marathon.containerip.dcos.thisdcos.directory</code></div>}
      </span>,
      <span class="actions">
        <Scale app={a} done={reload} />
        <Action label="Restart" run={async () => (await api('POST', `/marathon/v2/apps${a.id}/restart`), reload())} />
        <Action label="Destroy" kind="danger" confirm={`Destroy ${a.id} and kill its ${a.tasksRunning} task(s)?`} run={async () => (await api('DELETE', `/marathon/v2/apps${a.id}`), reload())} />
      </span>,
    ];
  });
  return (
    <div>
      <Section title="Services" id="services">
        <ErrorLine error={apps.error} />
        <Table id="apps" head={['app', 'instances', 'VIPs', 'DNS names', '']} rows={rows} empty="no apps: deploy one below" />
      </Section>
      <Deploy done={reload} />
    </div>
  );
}
