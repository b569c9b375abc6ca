/**
 * The mesos-dns HTTP API on HttpPort: /v1/version, /v1/config (secrets redacted), /v1/hosts/{h},
 * /v1/hosts/{h}/ports (501 like upstream), /v1/services/{s}, /v1/enumerate and /v1/axfr (when
 * EnumerationOn), plus /metrics. Response shapes are the upstream ones.
 */
import { Router } from '../../common/http.js';
import type { Registry } from '../../common/metrics.js';
import type { MesosDnsConfig } from './config.js';
import { configJson } from './config-json.js';
import { splitSrv, type RecordSet } from './recordset.js';

export const VERSION = '0.7.0-sextant';

export interface ApiSource {
  config: MesosDnsConfig;
  records(): RecordSet | undefined;
  serial(): number;
  registry: Registry;
}

/** Query name as mesos-dns normalizes it: lower-case, `.*` removed; ours has no trailing dot. */
function norm(s: string): string {
  return s.toLowerCase().split('.*').join('').replace(/\.$/, '');
}

function axfrSet(m: Map<string, Set<string>>, srv: boolean): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, vals] of m) out[name + '.'] = [...vals].map((v) => (srv ? `${splitSrv(v).target}.:${splitSrv(v).port}` : v));
  return out;
}

export function apiRouter(src: ApiSource): Router {
  const r = new Router();
  const empty = new Map<string, Set<string>>();
  r.get('/v1/version', () => ({ json: { Service: 'Mesos-DNS', URL: 'https://github.com/mesosphere/mesos-dns', Version: VERSION } }));
  r.get('/v1/config', () => {
    // mesos-dns's exact JSON (config-json.ts), sent with a Content-Length as Go's net/http does for a short body.
    const body = configJson(src.config);
    return { text: body, contentType: 'application/json', headers: { 'content-length': String(Buffer.byteLength(body)) } };
  });
  r.get('/v1/hosts/:host', (req) => {
    const dom = norm(req.params.host!);
    const rs = src.records();
    const out: { host: string; ip: string }[] = [];
    for (const kind of ['A', 'AAAA'] as const) for (const ip of rs?.map(kind).get(dom) ?? []) out.push({ host: dom + '.', ip });
    return { json: out.length ? out : [{ host: '', ip: '' }] };
  });
  r.get('/v1/hosts/:host/ports', () => ({ status: 501, text: 'To be implemented...' }));
  r.get('/v1/services/:service', (req) => {
    const service = req.params.service!;
    const rs = src.records();
    const out: { service: string; host: string; ip: string; port: string }[] = [];
    for (const v of (rs?.srv ?? empty).get(norm(service)) ?? []) {
      const { target, port } = splitSrv(v);
      for (const kind of ['A', 'AAAA'] as const) {
        const ip = rs?.first(kind, target);
        if (ip) out.push({ service, host: target + '.', ip, port: String(port) });
      }
    }
    return { json: out.length ? out : [{ service: '', host: '', ip: '', port: '' }] };
  });
  if (src.config.EnumerationOn) {
    r.get('/v1/enumerate', () => ({ json: { frameworks: src.records()?.frameworks ?? [] } }));
    r.get('/v1/axfr', () => {
      const rs = src.records();
      const c = src.config;
      return {
        json: {
          TTL: c.TTL,
          Serial: src.serial(),
          RefreshSeconds: c.RefreshSeconds,
          Mname: c.SOAMname,
          Rname: c.SOARname,
          Domain: c.Domain,
          Records: { As: axfrSet(rs?.a ?? empty, false), AAAAs: axfrSet(rs?.aaaa ?? empty, false), SRVs: axfrSet(rs?.srv ?? empty, true) },
        },
      };
    });
  }
  r.metrics(src.registry);
  return r;
}
