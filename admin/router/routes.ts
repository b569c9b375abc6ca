/**
 * The entry point's URL map (DC/OS Admin Router layout): which upstream serves an entry path, and
 * the path it is given there. Pure: no I/O. The map, as in admin/README.md:
 *
 *   /mesos/X              -> master Mesos API (leader)   /X
 *   /marathon/X           -> Marathon (this master's port; a follower proxies to the leader)  /X
 *   /mesos_dns/X          -> Mesos-DNS HTTP API (leader's host, --mesos-dns port)  /X
 *   /net/v1/networks...   -> master (leader) /v1/networks...   (also v1/overlay, v1/agents/ID/overlay, v1/l4lb)
 *   /net/v1/vips..., /net/v1/backends...  -> master (leader), path unchanged (network metrics)
 *   /system/health/v1...  -> master (leader), path unchanged
 *   /system/diag/v1...    -> master (leader), path unchanged (logs need system-logs)
 *   /acs/api/v1...        -> master (leader), path unchanged
 *   /service/APP/X        -> a running task of Marathon app APP (host, first port) /X; nested ids as `group%2Fapp`
 *   anything else         -> master (leader), path unchanged (`/` is the dashboard)
 */
export type RouteName = 'mesos' | 'marathon' | 'mesos_dns' | 'net' | 'system_health' | 'system_diag' | 'acs' | 'service' | 'dashboard';

export interface Mapped {
  route: RouteName;
  upstream: 'mesos' | 'marathon' | 'mesos-dns' | 'service';
  /** Path without the query, as the upstream sees it. */
  path: string;
  /** `?...` or ''. */
  query: string;
  /** What the entry point put in front of `path` (for rewriting upstream Location headers). */
  prefix: string;
  /** For `/service/`: the Marathon app id (`/group/app`). */
  app?: string;
}

/**
 * Routes to the master's own APIs (Mesos, Marathon, Mesos-DNS): they trust the entry point's certificate
 * and never read the client's token, so the client's credential headers are not forwarded to them
 * (the nginx front's hot routes are these three). `/acs/` keeps them: the identity service reads the token.
 */
export const CREDENTIAL_FREE_ROUTES: ReadonlySet<RouteName> = new Set<RouteName>(['mesos', 'marathon', 'mesos_dns']);

export class BadPath extends Error {
  override name = 'BadPath';
}

const NET_STRIPPED = /^\/net(\/v1\/(networks|overlay|agents|l4lb)(\/.*)?)$/;

/** Map an entry request target (`/marathon/v2/apps?embed=...`) or throw BadPath naming what is wrong. */
export function mapPath(target: string): Mapped {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  checkPath(path);
  const prefixed = (prefix: string) => path === prefix || path.startsWith(`${prefix}/`);
  const rest = (prefix: string) => path.slice(prefix.length) || '/';
  if (prefixed('/mesos')) return { route: 'mesos', upstream: 'mesos', path: rest('/mesos'), query, prefix: '/mesos' };
  if (prefixed('/marathon')) return { route: 'marathon', upstream: 'marathon', path: rest('/marathon'), query, prefix: '/marathon' };
  if (prefixed('/mesos_dns')) return { route: 'mesos_dns', upstream: 'mesos-dns', path: rest('/mesos_dns'), query, prefix: '/mesos_dns' };
  if (prefixed('/net')) {
    const m = path.match(NET_STRIPPED);
    return { route: 'net', upstream: 'mesos', path: m ? m[1]! : path, query, prefix: m ? '/net' : '' };
  }
  if (prefixed('/system/health/v1')) return { route: 'system_health', upstream: 'mesos', path, query, prefix: '' };
  if (prefixed('/system/diag/v1')) return { route: 'system_diag', upstream: 'mesos', path, query, prefix: '' };
  if (prefixed('/acs/api/v1')) return { route: 'acs', upstream: 'mesos', path, query, prefix: '' };
  if (prefixed('/service')) {
    const m = path.match(/^\/service\/([^/]+)(\/.*)?$/);
    if (!m) throw new BadPath(`'${path}': expected /service/<app>/...`);
    const app = `/${decodeURIComponent(m[1]!).replace(/^\/+/, '')}`;
    if (!/^(\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?)+$/.test(app) || app.includes('..')) throw new BadPath(`'${m[1]}' is not a Marathon app id`);
    return { route: 'service', upstream: 'service', path: m[2] ?? '/', query, app, prefix: `/service/${m[1]}` };
  }
  return { route: 'dashboard', upstream: 'mesos', path, query, prefix: '' };
}

/**
 * Refuse what could make the upstream see a different path than the permission check did: dot
 * segments, empty segments, backslashes, encoded `/`, `\` or `.` (except the app id of /service/, which
 * mapPath decodes and checks itself), NUL and control characters.
 */
function checkPath(path: string): void {
  if (!path.startsWith('/')) throw new BadPath(`'${path.slice(0, 100)}' does not start with /`);
  if (/[\0-\x1f\x7f\\]/.test(path)) throw new BadPath('the path holds a control character or a backslash');
  const segs = path.split('/').slice(1);
  const svc = segs[0] === 'service';
  segs.forEach((s, i) => {
    if (s === '.' || s === '..') throw new BadPath(`'${path.slice(0, 100)}' holds a dot segment`);
    if (s === '' && i < segs.length - 1) throw new BadPath(`'${path.slice(0, 100)}' holds an empty segment`);
    if (/%(2e|2f|5c|00)/i.test(s) && !(svc && i === 1 && !/%(2e|5c|00)/i.test(s))) throw new BadPath(`'${path.slice(0, 100)}' holds an encoded '.', '/', '\\' or NUL`);
  });
}
