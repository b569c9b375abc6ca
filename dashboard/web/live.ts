/**
 * Live state for every page: Marathon's event stream (`/marathon/v2/events`, SSE) and a poll of
 * the control plane's versions. Components subscribe to `ticks` and re-read what they show when a
 * tick arrives; `status` says whether each stream is up.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ControlStatus } from '../../contracts/control.js';
import { get } from './api.js';


export interface LiveStatus {
  events: 'connecting' | 'up' | 'down';
  control: 'connecting' | 'up' | 'down';
  controlError?: string;
  control_status?: ControlStatus;
  /** Bumped on every Marathon event and every new control-plane version or ACK. */
  tick: number;
  lastEvent?: string;
}

const EVENTS = [
  'status_update_event', 'api_post_event', 'app_terminated_event', 'deployment_info', 'deployment_success', 'deployment_failed',
  'deployment_step_success', 'health_status_changed_event', 'failed_health_check_event',
];

let state: LiveStatus = { events: 'connecting', control: 'connecting', tick: 0 };
const subs = new Set<(s: LiveStatus) => void>();
function set(p: Partial<LiveStatus>): void {
  state = { ...state, ...p };
  for (const fn of subs) fn(state);
}

let started = false;
let controlKey = '';
export function startLive(controlMs = 1000): void {
  if (started) return;
  started = true;
  // EventSource retries a dropped connection by itself, but gives up for good after an answer that
  // is not a 200 event stream (a 401, a 503 while Marathon restarts): then open a new one, every 3 s.
  const connect = () => {
    const es = new EventSource('/marathon/v2/events', { withCredentials: true });
    es.addEventListener('open', () => set({ events: 'up' }));
    es.addEventListener('error', () => {
      set({ events: 'down' });
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
    es.addEventListener('event_stream_attached', () => set({ events: 'up' }));
    for (const type of EVENTS) es.addEventListener(type, () => set({ tick: state.tick + 1, lastEvent: type, events: 'up' }));
  };
  connect();
  const poll = async () => {
    try {
      const s = await get<ControlStatus>('/net/v1/control/agents');
      const key = `${s.version}|${s.agents.map((a) => `${a.agent_id}:${a.applied}:${a.connected}`).join(',')}`;
      const changed = key !== controlKey;
      controlKey = key;
      set({ control: 'up', control_status: s, controlError: undefined, ...(changed ? { tick: state.tick + 1 } : {}) });
    } catch (e) {
      set({ control: 'down', controlError: (e as Error).message });
    }
    setTimeout(poll, controlMs);
  };
  void poll();
}

export function useLive(): LiveStatus {
  const [s, setS] = useState(state);
  useEffect(() => {
    subs.add(setS);
    setS(state);
    return () => void subs.delete(setS);
  }, []);
  return s;
}

/**
 * GET `path` now, every `everyMs`, and on every live tick. Keeps the last good data when a read
 * fails (with the error beside it).
 */
export function usePoll<T>(path: string | null, everyMs = 3000): { data?: T; error?: string; status?: number; reload: () => void } {
  const live = useLive();
  const [r, setR] = useState<{ data?: T; error?: string; status?: number }>({});
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!path) return;
    let alive = true;
    const load = () =>
      get<T>(path).then(
        (data) => alive && setR({ data }),
        (e: Error & { status?: number }) => alive && setR((old) => ({ data: old.data, error: e.message, status: e.status })),
      );
    void load();
    const t = setInterval(load, everyMs);
    return () => {
      alive = false;
      clearInterval(t);
    };
  }, [path, live.tick, n, everyMs]);
  return { ...r, reload: () => setN((x) => x + 1) };
}
