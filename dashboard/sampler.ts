/**
 * Feeds the charts on the master: every `controlMs` the control plane's status (in process, the
 * `/v1/control/agents` route) into the convergence history; every `metricsMs` Mesos-DNS's query
 * counter (this process's registry) and each agent's `/metrics` (dispatcher queries, userspace
 * L4LB connections, active backends) into the series. One round at a time; an agent that does
 * not answer within `agentTimeoutMs` is a gap in its series.
 */
import { requestJson, systemClock, type Clock, type Logger, type Registry, type Request, type Router } from '../common/index.js';
import { ConvergenceTracker, type ControlSample } from './convergence.js';
import { agentAddress } from './dns-route.js';
import { parsePromText, sumOf } from './prom-text.js';
import { SeriesStore, type Reading } from './series.js';

export interface SamplerOptions {
  controlMs?: number;
  metricsMs?: number;
  agentTimeoutMs?: number;
  clock?: Clock;
}

interface Deps {
  router: () => Router | undefined;
  registry: Registry;
  state(): Record<string, unknown>;
  log: Logger;
}

/** Calls a JSON GET route of `router` in process; undefined when there is none or it failed. */
export async function localJson(router: Router, path: string): Promise<unknown> {
  const m = router.match('GET', path);
  if (!m || m === 'method') return undefined;
  const req = { method: 'GET', path, params: m.params, query: new URLSearchParams(), headers: {}, body: undefined } as unknown as Request;
  const reply = await m.handler(req, undefined as never);
  return 'json' in reply && (reply.status ?? 200) === 200 ? reply.json : undefined;
}

export class Sampler {
  readonly convergence = new ConvergenceTracker();
  readonly series: SeriesStore;
  private readonly clock: Clock;
  private readonly controlMs: number;
  private readonly every: number;
  private timer: unknown;
  private ticks = 0;
  private stopped = true;
  private running?: Promise<void>;

  constructor(
    private readonly d: Deps,
    private readonly o: SamplerOptions = {},
  ) {
    this.clock = o.clock ?? systemClock;
    this.controlMs = o.controlMs ?? 1000;
    this.every = Math.max(1, Math.round((o.metricsMs ?? 5000) / this.controlMs));
    this.series = new SeriesStore(this.every * this.controlMs);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.running = this.round()
        .catch((err) => this.d.log.warn('dashboard_sample_failed', { err }))
        .finally(() => this.schedule(this.controlMs));
    }, ms);
  }

  /** One round: the control status always, the metrics every `metricsMs`. */
  async round(): Promise<void> {
    const router = this.d.router();
    const status = router ? ((await localJson(router, '/v1/control/agents')) as ControlSample | undefined) : undefined;
    if (status && typeof status.version === 'number' && Array.isArray(status.agents)) this.convergence.observe(status, this.clock.now());
    if (this.ticks++ % this.every === 0) this.series.add(this.clock.now(), await this.read());
  }

  private async read(): Promise<Reading> {
    const r: Reading = { dnsTotals: {}, open: {}, backends: {}, nodes: {} };
    const mesosDns = this.d.registry.getSingleMetric('sextant_mesos_dns_queries_total');
    if (mesosDns) r.dnsTotals['mesos-dns'] = (await mesosDns.get()).values.reduce((a, v) => a + v.value, 0);
    const slaves = ((this.d.state().slaves as { id: string }[] | undefined) ?? []).map((s) => agentAddress(this.d.state(), s.id)).filter((a) => a !== undefined);
    await Promise.all(
      slaves.map(async (a) => {
        const host = a.ip.includes(':') ? `[${a.ip}]` : a.ip;
        const res = await requestJson(`http://${host}:${a.port}/metrics`, { timeoutMs: this.o.agentTimeoutMs ?? 2000 }).catch(() => undefined);
        if (res?.status !== 200 || typeof res.body !== 'string') return;
        const s = parsePromText(res.body);
        const label = `${a.id} (${a.ip})`;
        const q = sumOf(s, 'sextant_dispatcher_requests_total');
        if (q !== undefined) r.dnsTotals[`dispatcher ${label}`] = q;
        const open = sumOf(s, 'sextant_l4lb_userspace_open');
        if (open !== undefined) r.open[label] = open;
        const b = sumOf(s, 'sextant_l4lb_backends', { state: 'active' });
        if (b !== undefined) r.backends[label] = b;
        const chosen = (name: string) => s.find((x) => x.name === name && x.value === 1)?.labels.driver;
        r.nodes![a.id] = { l4lb_driver: chosen('sextant_l4lb_driver'), overlay_kernel: chosen('sextant_overlay_kernel_driver') };
      }),
    );
    return r;
  }
}
