/**
 * The ACS HTTP API under `/acs/api/v1/`, in DC/OS IAM's shapes: login, the public key, accounts
 * (users with a password, service accounts with a public key) and permissions (ACLs per resource,
 * actions per uid). Errors are `{title, description, code}`. With `requireAuth`, every write needs a
 * token holding `dcos:adminrouter:acs` with the write's action (or superuser); a user may change
 * their own password and description. Reads are left to the entry point to guard.
 */
import { AUTH_COOKIE, type Action } from '../../contracts/index.js';
import { ValidationError, type Handler, type Reply, type Request, type Router } from '../../common/index.js';
import { AcsError, invalidData, unknownAcl, unknownUser } from './errors.js';
import { ACS_RESOURCE, isAction } from './ids.js';
import { checkAclPut, checkLogin, checkUserPatch, checkUserPut } from './schema.js';
import type { Acs } from './service.js';
import type { UserRecord } from './store.js';

export const PREFIX = '/acs/api/v1';

const userUrl = (uid: string) => `${PREFIX}/users/${encodeURIComponent(uid)}`;
const aclUrl = (rid: string) => `${PREFIX}/acls/${encodeURIComponent(rid)}`;

function userJson(u: UserRecord): Record<string, unknown> {
  return {
    uid: u.uid,
    url: userUrl(u.uid),
    description: u.description,
    is_remote: false,
    is_service: u.kind === 'service',
    provider_type: 'internal',
    provider_id: '',
    ...(u.public_key ? { public_key: u.public_key } : {}),
  };
}

/** A rid from the path: DC/OS clients encode `/` as %252F (twice), so decode once more when needed. */
function ridParam(p: string): string {
  if (!p.includes('%')) return p;
  try {
    return decodeURIComponent(p);
  } catch {
    throw invalidData(`resource id \`${p.slice(0, 100)}\` is not valid URL encoding`);
  }
}

function actionParam(a: string): Action {
  if (!isAction(a)) throw invalidData(`action \`${a.slice(0, 40)}\` is not one of full, read, update, delete`);
  return a;
}

function body<T>(check: { check(v: unknown): T }, v: unknown): T {
  try {
    return check.check(v ?? {});
  } catch (e) {
    if (e instanceof ValidationError) throw invalidData(`the request body is not valid: ${e.message}`);
    throw e;
  }
}

/** Turns AcsErrors (and anything else) into DC/OS-shaped replies. */
function wrap(h: Handler): Handler {
  return async (req, res) => {
    try {
      return await h(req, res);
    } catch (e) {
      if (e instanceof AcsError) {
        const retry = (e as AcsError & { retryAfterMs?: number }).retryAfterMs;
        const headers: Record<string, string> = e.status === 401 ? { 'www-authenticate': 'acsjwt' } : {};
        if (retry !== undefined) headers['retry-after'] = String(Math.ceil(retry / 1000));
        return { status: e.status, json: e.body(), headers };
      }
      throw e;
    }
  };
}

const AUTH_CODES: Record<string, string> = { missing: 'ERR_MISSING_AUTH_TOKEN', expired: 'ERR_EXPIRED_AUTH_TOKEN', 'unknown-identity': 'ERR_UNKNOWN_USER_ID' };

export function mountAcsApi(r: Router, acs: Acs): void {
  /** Who may write: the token's identity must hold ACS_RESOURCE with `action`, unless `self` may. */
  const guard = async (req: Request, action: Action, self?: string): Promise<void> => {
    if (!acs.requireAuth) return;
    const a = await acs.authority.authenticate(req.headers);
    if (!a.ok) {
      acs.log.info('acs_write_refused', { method: req.method, path: req.path, reason: a.reason });
      const hint = a.reason === 'missing' && acs.identities.userCount === 0 ? ' (no account exists yet: start the master with --superuser UID)' : '';
      throw new AcsError(401, AUTH_CODES[a.reason] ?? 'ERR_INVALID_AUTH_TOKEN', `${a.message}${hint}`);
    }
    if (self !== undefined && a.identity.uid === self) return;
    if (!(await acs.authority.authorize(a.identity, { resource: ACS_RESOURCE, action }))) {
      acs.log.info('acs_write_refused', { method: req.method, path: req.path, uid: a.identity.uid, reason: 'forbidden' });
      throw new AcsError(403, 'ERR_FORBIDDEN', `\`${a.identity.uid}\` lacks the permission ${ACS_RESOURCE} ${action} (or dcos:superuser full)`);
    }
  };
  const audit = (req: Request, what: string) => acs.log.info('acs_write', { method: req.method, path: req.path, what });
  const on = (method: 'get' | 'put' | 'patch' | 'delete' | 'post', path: string, h: Handler, summary: string) => r[method](PREFIX + path, wrap(h), { summary });

  on('post', '/auth/login', async (req, res): Promise<Reply> => {
    const b = body(checkLogin, req.body);
    const { token } = await acs.login(b, req.raw.socket.remoteAddress ?? 'unknown');
    const maxAge = Math.floor(acs.signer.lifetimeMs / 1000);
    res.setHeader('set-cookie', `${AUTH_COOKIE}=${token}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Strict`);
    return { json: { token } };
  }, 'log in with {uid, password} or {uid, token} (a service account login JWT): {token}');

  on('get', '/auth/jwks', async () => ({ json: await acs.signer.jwks() }), 'the public key tokens are signed with (JWK set)');

  on('get', '/auth/whoami', async (req) => {
    const a = await acs.authority.authenticate(req.headers);
    if (!a.ok) throw new AcsError(401, AUTH_CODES[a.reason] ?? 'ERR_INVALID_AUTH_TOKEN', a.message);
    const { uid, kind, superuser } = a.identity;
    return { json: { uid, kind, superuser, permissions: acs.identities.grantsOf(a.identity.uid).map((g) => ({ rid: g.rid, actions: g.actions })) } };
  }, 'who the request token speaks for, and their grants (Sextant)');

  on('get', '/users', async () => ({ json: { array: acs.identities.listUsers().map(userJson) } }), 'accounts');

  on('get', '/users/:uid', async (req) => {
    const u = acs.identities.user(req.params.uid!);
    if (!u) throw unknownUser(req.params.uid!);
    return { json: userJson(u) };
  }, 'one account');

  on('put', '/users/:uid', async (req) => {
    const b = body(checkUserPut, req.body);
    await guard(req, 'update');
    await acs.identities.createUser(req.params.uid!, b);
    audit(req, `create ${b.public_key ? 'service account' : 'user'} ${req.params.uid}`);
    return { status: 201, json: userJson(acs.identities.user(req.params.uid!)!) };
  }, 'create a user {password, description} or a service account {public_key, description}');

  on('patch', '/users/:uid', async (req) => {
    const b = body(checkUserPatch, req.body);
    await guard(req, 'update', b.public_key === undefined ? req.params.uid : undefined);
    await acs.identities.patchUser(req.params.uid!, b);
    audit(req, `update account ${req.params.uid}`);
    return { status: 204, text: '' };
  }, 'change password, public_key or description');

  on('delete', '/users/:uid', async (req) => {
    await guard(req, 'delete');
    await acs.identities.deleteUser(req.params.uid!);
    audit(req, `delete account ${req.params.uid}`);
    return { status: 204, text: '' };
  }, 'delete an account and its grants');

  on('get', '/users/:uid/permissions', async (req) => {
    const uid = req.params.uid!;
    if (!acs.identities.user(uid)) throw unknownUser(uid);
    const direct = acs.identities.grantsOf(uid).map((g) => ({
      rid: g.rid,
      description: g.description,
      aclurl: aclUrl(g.rid),
      actions: g.actions.map((name) => ({ name, url: `${aclUrl(g.rid)}/users/${encodeURIComponent(uid)}/${name}` })),
    }));
    return { json: { direct, groups: [] } };
  }, "an account's grants");

  on('get', '/acls', async () => ({ json: { array: acs.identities.listAcls().map((a) => ({ rid: a.rid, url: aclUrl(a.rid), description: a.description })) } }), 'ACLs (resources with grants)');

  on('get', '/acls/:rid', async (req) => {
    const a = acs.identities.acl(ridParam(req.params.rid!));
    if (!a) throw unknownAcl(ridParam(req.params.rid!));
    return { json: { rid: a.rid, url: aclUrl(a.rid), description: a.description } };
  }, 'one ACL');

  on('put', '/acls/:rid', async (req) => {
    const b = body(checkAclPut, req.body);
    await guard(req, 'update');
    const a = await acs.identities.createAcl(ridParam(req.params.rid!), b.description);
    audit(req, `create acl ${a.rid}`);
    return { status: 201, text: '' };
  }, 'create an ACL {description}');

  on('delete', '/acls/:rid', async (req) => {
    await guard(req, 'delete');
    await acs.identities.deleteAcl(ridParam(req.params.rid!));
    audit(req, `delete acl ${ridParam(req.params.rid!)}`);
    return { status: 204, text: '' };
  }, 'delete an ACL and its grants');

  on('get', '/acls/:rid/permissions', async (req) => {
    const rid = ridParam(req.params.rid!);
    const a = acs.identities.acl(rid);
    if (!a) throw unknownAcl(rid);
    const users = Object.entries(a.users).map(([uid, actions]) => ({ uid, actions: actions.map((name) => ({ name, url: `${aclUrl(rid)}/users/${encodeURIComponent(uid)}/${name}` })) }));
    return { json: { users, groups: [] } };
  }, 'who holds which actions on an ACL');

  on('get', '/acls/:rid/users/:uid', async (req) => {
    const rid = ridParam(req.params.rid!);
    const a = acs.identities.acl(rid);
    if (!a) throw unknownAcl(rid);
    const uid = req.params.uid!;
    return { json: { actions: (a.users[uid] ?? []).map((name) => ({ name, url: `${aclUrl(rid)}/users/${encodeURIComponent(uid)}/${name}` })) } };
  }, "an account's actions on an ACL");

  on('put', '/acls/:rid/users/:uid/:action', async (req) => {
    const rid = ridParam(req.params.rid!);
    const action = actionParam(req.params.action!);
    await guard(req, 'update');
    await acs.identities.grant(rid, req.params.uid!, action);
    audit(req, `grant ${rid} ${action} to ${req.params.uid}`);
    return { status: 204, text: '' };
  }, 'grant an action (the ACL is created when missing)');

  on('delete', '/acls/:rid/users/:uid/:action', async (req) => {
    const rid = ridParam(req.params.rid!);
    const action = actionParam(req.params.action!);
    await guard(req, 'delete');
    await acs.identities.revoke(rid, req.params.uid!, action);
    audit(req, `revoke ${rid} ${action} from ${req.params.uid}`);
    return { status: 204, text: '' };
  }, 'revoke an action');
}
