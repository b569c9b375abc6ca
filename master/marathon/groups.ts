/**
 * Marathon groups (`/v2/groups`): a group is the set of apps whose ids lie under its path, so
 * groups are not stored on their own (an empty group does not exist; the root `/` always does).
 * This file turns group definitions into app definitions (ids resolved against the group's path,
 * every app admitted, every error collected under its JSON pointer) and apps into the group tree.
 */
import { ValidationError } from '../../common/index.js';
import { normalizeId, type App } from './app.js';

/** A group definition as the schema accepts it (`groups` nest; the route's schema bounds the depth). */
export interface GroupBody {
  id?: string;
  apps?: unknown[];
  groups?: GroupBody[];
  dependencies?: string[];
  scaleBy?: number;
}

type Detail = { path: string; errors: string[] };

/** A group path: `/` (or empty) is the root, anything else must be a valid app-style path. */
export function groupId(raw: string): string | undefined {
  if (raw === '' || raw === '/') return '/';
  return normalizeId(raw.replace(/\/+$/, ''));
}

/** `id` relative to `parent` unless absolute; undefined when not a valid path. */
function resolve(id: string, parent: string): string | undefined {
  if (id.startsWith('/')) return groupId(id);
  return groupId(parent === '/' ? `/${id}` : `${parent}/${id}`);
}

export function isUnder(appId: string, group: string): boolean {
  return group === '/' || appId.startsWith(`${group}/`);
}

function parentOf(id: string): string {
  const i = id.lastIndexOf('/');
  return i <= 0 ? '/' : id.slice(0, i);
}

/** The apps of a definition, split into those directly in the group and those in its subgroups. */
export interface Flattened {
  direct: App[];
  nested: App[];
}

/**
 * Every app of a group definition with its id resolved and admitted; throws one ValidationError
 * listing every bad path (`/apps/1/instances`, `/groups/0/apps/0/cmd`), each message naming the
 * app's id, so one bad app stores nothing.
 */
export function flattenGroup(body: GroupBody, id: string, admit: (definition: unknown) => App): Flattened {
  const errors: Detail[] = [];
  const out: Flattened = { direct: [], nested: [] };
  const seen = new Set<string>();
  const walk = (g: GroupBody, gid: string, ptr: string, into: App[]) => {
    (g.apps ?? []).forEach((raw, i) => {
      const p = `${ptr}/apps/${i}`;
      const rawId = (raw as { id?: unknown }).id;
      const appId = typeof rawId === 'string' ? resolve(rawId, gid) : undefined;
      if (!appId || appId === '/') return errors.push({ path: `${p}/id`, errors: [`'${String(rawId)}' is not a valid app id`] });
      if (parentOf(appId) !== gid) return errors.push({ path: `${p}/id`, errors: [`app ${appId} is not directly in group ${gid}: put it in a subgroup`] });
      if (seen.has(appId)) return errors.push({ path: `${p}/id`, errors: [`app ${appId} is given twice`] });
      seen.add(appId);
      try {
        into.push(admit({ ...(raw as object), id: appId }));
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        for (const d of e.details) errors.push({ path: d.path === '/' ? p : `${p}${d.path}`, errors: d.errors.map((m) => `app ${appId}: ${m}`) });
      }
    });
    (g.groups ?? []).forEach((sub, i) => {
      const p = `${ptr}/groups/${i}`;
      const subId = typeof sub.id === 'string' ? resolve(sub.id, gid) : undefined;
      if (!subId || !isUnder(subId, gid) || subId === gid) return errors.push({ path: `${p}/id`, errors: [`'${String(sub.id)}' is not a valid group id under ${gid}`] });
      if (seen.has(subId)) return errors.push({ path: `${p}/id`, errors: [`${subId} is given twice (as an app or a group)`] });
      seen.add(subId);
      walk(sub, subId, p, out.nested);
    });
    (g.dependencies ?? []).forEach((dep, i) => {
      if (!resolve(dep, gid)) errors.push({ path: `${ptr}/dependencies/${i}`, errors: [`'${dep}' is not a valid path`] });
    });
  };
  walk(body, id, '', out.direct);
  if (errors.length) throw new ValidationError(errors);
  return out;
}

/**
 * A group and an app may not share a path (`/prod` an app and `/prod/web` another app): the
 * apps after a change, checked once, errors at `/apps` naming both.
 */
export function checkPaths(ids: Iterable<string>): void {
  const all = new Set(ids);
  const errors: string[] = [];
  for (const id of all) {
    for (let p = parentOf(id); p !== '/'; p = parentOf(p)) if (all.has(p)) errors.push(`${p} would be both an app and the group of ${id}`);
  }
  if (errors.length) throw new ValidationError([{ path: '/apps', errors: errors.slice(0, 10) }]);
}

/** Scale every app by the factor (rounded up, as Marathon does); a result over the bound is a 422 naming the app. */
export function scaleApps(apps: App[], factor: number, maxInstances: number, bound: string): App[] {
  const errors: string[] = [];
  const out = apps.map((a) => {
    const instances = Math.ceil(a.instances * factor);
    if (instances > maxInstances) errors.push(`app ${a.id}: ${a.instances} x ${factor} = ${instances} instances, more than ${maxInstances} (maximum, set by ${bound})`);
    return { ...a, instances };
  });
  if (errors.length) throw new ValidationError([{ path: '/scaleBy', errors }]);
  return out;
}

/** The group tree under `id` as Marathon shows it: apps directly in it, then subgroups, by id. */
export function groupTree(id: string, appIds: string[], show: (appId: string) => Record<string, unknown>, versionOf: (group: string, appIds: string[]) => string): Record<string, unknown> {
  const mine = appIds.filter((a) => isUnder(a, id)).sort();
  const direct = mine.filter((a) => parentOf(a) === id);
  const subs = [...new Set(mine.filter((a) => parentOf(a) !== id).map((a) => a.slice(0, a.indexOf('/', id === '/' ? 1 : id.length + 1))))];
  return {
    id,
    apps: direct.map(show),
    groups: subs.map((g) => groupTree(g, mine, show, versionOf)),
    dependencies: [],
    version: versionOf(id, mine),
  };
}
