/**
 * Authentication and authorization seam between the identity service (`/acs/api/v1`: users,
 * service accounts, tokens, permissions) and what enforces it (the entry point, the CLI, the
 * dashboard). Permissions are named like DC/OS's: a resource id plus an action.
 */

/** DC/OS action names; `full` implies the others. */
export type Action = 'full' | 'read' | 'update' | 'delete';

/** Who a valid token speaks for. */
export interface Identity {
  uid: string;
  kind: 'user' | 'service';
  /** Superusers hold `dcos:superuser full` and pass every permission check. */
  superuser: boolean;
  /** When the credential this identity came from expires (ms since the epoch), when known: caches of it end there. */
  expiresAt?: number;
}

/** Why a request could not be authenticated; each maps to 401 with a body that says which. */
export type AuthFailure = 'missing' | 'malformed' | 'expired' | 'bad-signature' | 'unknown-identity';

export type AuthResult = { ok: true; identity: Identity } | { ok: false; reason: AuthFailure; message: string };

/** A permission: resource id (`dcos:service:marathon:marathon:services:/prod`, `dcos:adminrouter:ops:networks`, ...) and action. */
export interface Permission {
  resource: string;
  action: Action;
}

export interface Authority {
  /**
   * Checks the credentials of a request: `Authorization: token=<jwt>` (DC/OS), `Authorization: Bearer <jwt>`,
   * or the `dcos-acs-auth-cookie` cookie (browsers: EventSource cannot set headers).
   */
  authenticate(headers: Record<string, string | string[] | undefined>): Promise<AuthResult>;
  /** True when the identity holds the permission (or a parent resource of it, or `full`, or is a superuser). */
  authorize(identity: Identity, permission: Permission): Promise<boolean>;
}

/** Name of the cookie browsers carry the token in (DC/OS's). */
export const AUTH_COOKIE = 'dcos-acs-auth-cookie';
