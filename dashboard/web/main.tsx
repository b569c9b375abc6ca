/** The operator's dashboard: one page, hash-routed (#/services, #/tasks, #/vips, #/networks, #/nodes, #/dns). */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { isLoginNeeded, login, logout, onLoginNeeded } from './api.js';
import { startLive, useLive } from './live.js';
import { Dns } from './pages/dns.js';
import { Networks } from './pages/networks.js';
import { Nodes } from './pages/nodes.js';
import { Services } from './pages/services.js';
import { Tasks } from './pages/tasks.js';
import { Vips } from './pages/vips.js';

const PAGES = [
  { path: 'services', title: 'Services', view: Services },
  { path: 'tasks', title: 'Tasks', view: Tasks },
  { path: 'vips', title: 'Network → VIPs', view: Vips },
  { path: 'networks', title: 'Network → Networks', view: Networks },
  { path: 'nodes', title: 'Nodes', view: Nodes },
  { path: 'dns', title: 'DNS', view: Dns },
];

const current = () => location.hash.replace(/^#\/?/, '') || 'services';

function Login() {
  const [uid, setUid] = useState('');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState<string>();
  return (
    <form class="login" id="login" onSubmit={(e) => {
      e.preventDefault();
      login(uid, password).then(() => location.reload(), (x: Error) => setErr(x.message));
    }}>
      <h2>Log in</h2>
      <p class="note">This cluster asks who you are.</p>
      <label>user <input name="uid" autocomplete="username" value={uid} onInput={(e) => setUid((e.target as HTMLInputElement).value)} /></label>
      <label>password <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Log in</button>
      {err && <p class="error" role="alert">{err}</p>}
    </form>
  );
}

function StreamBadge(props: { label: string; state: string; detail?: string }) {
  return <span class={`stream ${props.state}`} data-stream={props.label} title={props.detail}>{props.label}: {props.state === 'up' ? 'live' : props.state}</span>;
}

function App() {
  const [page, setPage] = useState(current());
  const [needLogin, setNeedLogin] = useState(isLoginNeeded());
  const live = useLive();
  useEffect(() => {
    const on = () => setPage(current());
    addEventListener('hashchange', on);
    const off = onLoginNeeded(() => setNeedLogin(isLoginNeeded()));
    startLive();
    return () => (removeEventListener('hashchange', on), off());
  }, []);
  const P = PAGES.find((p) => p.path === page) ?? PAGES[0]!;
  const cs = live.control_status;
  const applied = cs ? cs.agents.filter((a) => a.applied >= cs.version).length : 0;
  return (
    <div>
      <header>
        <h1>Sextant</h1>
        <nav>
          {PAGES.map((p) => <a key={p.path} href={`#/${p.path}`} class={p.path === P.path ? 'active' : ''}>{p.title}</a>)}
        </nav>
        <div class="streams">
          <StreamBadge label="events" state={live.events} />
          <StreamBadge label="control plane" state={live.control} detail={live.controlError} />
          {cs && <span class="version" id="control-version">v{cs.version}: {applied}/{cs.agents.length} agents applied</span>}
          <a href="#" onClick={(e) => (e.preventDefault(), logout(), location.reload())} class="logout">log out</a>
        </div>
      </header>
      {(live.events === 'down' || live.control === 'down') && (
        <p class="banner" id="stream-down">
          {live.events === 'down' ? 'The Marathon event stream is down: the pages refresh by polling until it is back. ' : ''}
          {live.control === 'down' ? `The control-plane status is not answering (${live.controlError ?? 'no reply'}).` : ''}
        </p>
      )}
      <main>{needLogin ? <Login /> : <P.view />}</main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
