/**
 * The routes of the master's Mesos port a caller may reach without a verified client certificate
 * under mutual TLS. Everything else is closed: a route a component or plugin adds later is
 * protected unless it is listed here (master/test/public-routes.test.ts walks every route).
 */
import { API } from '../contracts/index.js';

export interface PublicRoute {
  method: string;
  path: string;
  why: string;
}

export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  { method: 'POST', path: API.register, why: 'agent TLS bootstrap: a first registration has no certificate yet (it needs the bootstrap token instead)' },
];

/** Exact method and path: no prefixes, no patterns. */
export function isPublicRoute(method: string, path: string): boolean {
  return PUBLIC_ROUTES.some((r) => r.method === method && r.path === path);
}
