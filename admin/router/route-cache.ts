/**
 * The URL map and the permission table compiled per path: `mapPath` and `permissionFor` are pure,
 * so their answer for a (method, path) is kept in a bounded map (oldest dropped first) and the
 * regular expressions run once per distinct path, not once per request. Paths that fail the checks
 * (BadPath) are not kept: they throw every time.
 */
import { permissionFor, type Need } from './permissions.js';
import { mapPath, type Mapped } from './routes.js';

export interface Resolved {
  m: Mapped;
  need: Need;
}

export class RouteCache {
  private readonly m = new Map<string, Resolved>();
  constructor(private readonly size = 4096) {}

  /** The mapping and permission of `method target` (target with its query); throws BadPath. */
  resolve(method: string, target: string): Resolved {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const key = `${method} ${path}`;
    let r = this.m.get(key);
    if (r === undefined) {
      const m = mapPath(path);
      r = { m, need: permissionFor(m.upstream, method, m.path, m.app) };
      if (this.m.size >= this.size) this.m.delete(this.m.keys().next().value!);
      this.m.set(key, r);
    }
    return q < 0 ? r : { m: { ...r.m, query: target.slice(q) }, need: r.need };
  }
}
