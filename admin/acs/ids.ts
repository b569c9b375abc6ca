/**
 * Names and their rules, pure: uids, resource ids, actions, and which grants cover a permission.
 *
 * Resource ids are `:`-separated (`dcos:adminrouter:ops:networks`); a grant on a prefix of segments
 * covers the resources below it (`dcos:adminrouter:ops` covers `dcos:adminrouter:ops:networks`).
 * A Marathon service id keeps its group path as one last segment
 * (`dcos:service:marathon:marathon:services:/prod/web`) and inherits from each enclosing group
 * (`.../services:/prod`) and from `.../services` itself. `full` implies every action.
 */
import type { Action } from '../../contracts/index.js';

export const ACTIONS: readonly Action[] = ['full', 'read', 'update', 'delete'];
export const SUPERUSER_RESOURCE = 'dcos:superuser';
/** What administering identities and permissions needs (besides superuser). */
export const ACS_RESOURCE = 'dcos:adminrouter:acs';

/** uids: letters, digits, `@._-`, starting with a letter or digit (DC/OS allowed these). */
export const UID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9@._-]{0,95}$';
/** Resource ids: `:`-separated words; the last may be a Marathon path (`/a/b`). */
export const RID_PATTERN = '^[a-z][A-Za-z0-9_.@-]*(:[A-Za-z0-9_.@/-]+)*$';
export const MAX_RID = 512;

const uidRe = new RegExp(UID_PATTERN);
const ridRe = new RegExp(RID_PATTERN);

export const isUid = (s: string): boolean => uidRe.test(s);
export const isRid = (s: string): boolean => s.length <= MAX_RID && ridRe.test(s) && !s.includes('//') && !/\/$/.test(s.split(':').pop()!.slice(1));
export const isAction = (s: string): s is Action => (ACTIONS as readonly string[]).includes(s);

/** The resource itself, then each resource that covers it, nearest first. */
export function coveringResources(rid: string): string[] {
  const segs = rid.split(':');
  const out: string[] = [];
  const last = segs[segs.length - 1]!;
  if (last.startsWith('/') && segs.length > 1) {
    // A Marathon path: /a/b/c, /a/b, /a, then the segments before it.
    const parts = last.split('/').filter(Boolean);
    const head = segs.slice(0, -1).join(':');
    for (let i = parts.length; i >= 1; i--) out.push(`${head}:/${parts.slice(0, i).join('/')}`);
    segs.pop();
  }
  for (let i = segs.length; i >= 1; i--) out.push(segs.slice(0, i).join(':'));
  return out;
}

/** Whether a set of granted actions allows `action`. */
export function actionAllows(granted: Iterable<string>, action: Action): boolean {
  for (const g of granted) if (g === 'full' || g === action) return true;
  return false;
}
