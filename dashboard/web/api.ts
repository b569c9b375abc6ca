/**
 * The page's only way to the cluster: DC/OS-layout paths on the origin that served it (the master,
 * or the entry point). A 401 asks for a login (POST /acs/api/v1/auth/login); the token then goes
 * in `Authorization: token=...` and in the `dcos-acs-auth-cookie` cookie for the event stream,
 * which cannot set headers. Other errors carry the API's own message (a 403 names the permission).
 */
import { AUTH_COOKIE } from '../../contracts/auth.js';

const TOKEN_KEY = 'sextant-dashboard-token';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const loginListeners = new Set<Listener>();
let loginNeeded = false;

export function onLoginNeeded(fn: Listener): () => void {
  loginListeners.add(fn);
  return () => loginListeners.delete(fn);
}
export const isLoginNeeded = () => loginNeeded;

function token(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function setToken(t: string | null): void {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the cookie still carries it */
  }
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  document.cookie = t ? `${AUTH_COOKIE}=${encodeURIComponent(t)}; path=/; SameSite=Strict${secure}` : `${AUTH_COOKIE}=; path=/; max-age=0`;
}

/** The message an API put in its error body (Marathon and ours: `message`; some: `description`, `title`). */
export function messageOf(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const details = Array.isArray(b.details)
      ? (b.details as { path?: string; errors?: string[] }[]).map((d) => `${d.path ?? ''}: ${(d.errors ?? []).join(', ')}`).join('; ')
      : '';
    const msg = [b.message, b.description, b.title].find((x) => typeof x === 'string') as string | undefined;
    if (msg || details) return [msg, details].filter(Boolean).join(' — ');
  }
  if (typeof body === 'string' && body.trim()) return body.trim().slice(0, 300);
  return `HTTP ${status}`;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const t = token();
  if (t) headers.authorization = `token=${t}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  if (res.status === 401) {
    if (!loginNeeded) {
      loginNeeded = true;
      for (const fn of loginListeners) fn();
    }
    throw new HttpError(401, `login required: ${messageOf(401, data)}`);
  }
  if (!res.ok) throw new HttpError(res.status, messageOf(res.status, data));
  return data as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

export async function login(uid: string, password: string): Promise<void> {
  const r = await api<{ token?: string }>('POST', '/acs/api/v1/auth/login', { uid, password });
  if (!r?.token) throw new Error('the login answered no token');
  setToken(r.token);
  loginNeeded = false;
  for (const fn of loginListeners) fn();
}

export function logout(): void {
  setToken(null);
}
