/**
 * The dashboard inside the master: the page at `/` of the Mesos port, its bundle at `/assets/`,
 * the DC/OS-layout shim (shim.ts), and the routes the page needs that no API had:
 *   GET /v1/dns/query             resolve through an agent's dispatcher (dns-route.ts)
 *   GET /agent/{id}/files/read    a task's stdout/stderr from its agent (files-route.ts)
 *   GET /v1/dashboard/series      chart data: convergence history and sampled metrics (sampler.ts)
 * The last two and `/v1/dns/query` are reached by the page as `/net/v1/...` (through the shim, or
 * the entry point's `/net/`), except `/agent/...`, which is Admin Router's own layout.
 */
import { systemClock, type Router } from '../common/index.js';
import type { Component, MasterPlugin } from '../contracts/index.js';
import { Assets, defaultAssetsDir } from './assets.js';
import { mountDnsRoute } from './dns-route.js';
import { mountFilesRoute } from './files-route.js';
import { Sampler, type SamplerOptions } from './sampler.js';
import { mountShim } from './shim.js';

export interface DashboardPluginOptions {
  /** Where index.html, app.js and app.css are (default: dist/dashboard/web of this checkout). */
  assetsDir?: string;
  /** Port of the agents' DNS dispatchers (53). */
  dispatcherPort?: number;
  sampler?: SamplerOptions;
}

export function dashboardMasterPlugin(opts: DashboardPluginOptions = {}): MasterPlugin {
  return ({ handle, control, metrics, log }): Component => {
    const assets = new Assets(opts.assetsDir ?? defaultAssetsDir());
    const clock = opts.sampler?.clock ?? systemClock;
    let unsubscribe: (() => void) | undefined;
    let mesos: Router | undefined;
    const sampler = new Sampler({ router: () => mesos, registry: metrics, state: () => handle.state(), log }, opts.sampler);
    handle.routes((r) => {
      mesos = r;
      r.get('/', () => assets.reply('index.html'));
      r.get('/assets/:file', (req) => {
        const f = req.params.file;
        return f === 'app.js' || f === 'app.css' ? assets.reply(f) : { status: 404, json: { message: `no asset ${f}` } };
      });
      mountShim(r, handle.apis ?? new Map([['/mesos', r], ['/net', r]]));
      mountDnsRoute(r, { state: () => handle.state(), dispatcherPort: opts.dispatcherPort ?? 53 });
      mountFilesRoute(r, () => handle.state(), handle.tls);
      r.get('/v1/dashboard/series', () => ({ json: { ...sampler.series.json(), convergence: sampler.convergence.list() } }), { summary: 'chart data of the dashboard: convergence history, DNS and L4LB samples (last hour)' });
    });
    return {
      name: 'dashboard',
      async start() {
        await assets.load();
        // A snapshot part's source signalling a change is what may make a new version.
        const offs: (() => void)[] = [];
        offs.push(control.onSource((src) => offs.push(src.onChange(() => sampler.convergence.changed(clock.now())))));
        unsubscribe = () => offs.forEach((f) => f());
        if (assets.problem) log.warn('dashboard_not_built', { reason: assets.problem });
        sampler.start();
        log.info('dashboard_serving', { url: `http://${handle.ip.includes(':') ? `[${handle.ip}]` : handle.ip}:${handle.port}/` });
      },
      async stop() {
        unsubscribe?.();
        await sampler.stop();
      },
    };
  };
}
