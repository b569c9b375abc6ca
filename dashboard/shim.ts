/**
 * The DC/OS layout on the master's own port: `/marathon/...`, `/mesos/...`, `/net/...`,
 * `/mesos_dns/...` are handed, in process, to the router that serves that API on its own port
 * (MasterHandle.apis), with the prefix cut off, so the page's URLs are the same here and behind
 * the entry point. No network hop; the inner router validates and answers as on its own port.
 * The map is read per request: a service that registers later (Mesos-DNS) is found.
 * A write whose `Origin` is another site is refused (403): a page elsewhere could otherwise make
 * a visitor's browser post a form here (a text/plain POST needs no CORS preflight).
 */
import { forward, type Router } from '../common/index.js';

export const PREFIXES = ['/mesos', '/marathon', '/net', '/mesos_dns'] as const;
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export function mountShim(router: Router, apis: ReadonlyMap<string, Router>): void {
  for (const prefix of PREFIXES)
    for (const method of METHODS)
      router.on(method, `${prefix}/*rest`, (req, res) => {
        if (method !== 'GET' && crossSite(req.headers.origin, req.headers.host)) return { status: 403, json: { message: `cross-site ${method} refused: Origin ${req.headers.origin} is not ${req.headers.host}` } };
        const target = apis.get(prefix);
        if (!target) return { status: 503, json: { message: `${prefix}/ is not served by this master (its service is not running)` } };
        // The raw path, not the decoded params: app ids may hold %2F and must reach the inner router as sent.
        const raw = (req.raw.url ?? '/').split('?')[0]!;
        return forward(target, req, raw.slice(prefix.length) || '/', res);
      });
}

function crossSite(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== host;
  } catch {
    return true; // `null` (sandboxed frames, file:) or junk
  }
}
