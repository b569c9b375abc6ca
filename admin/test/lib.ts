/**
 * Test helpers for the entry point: a stub Authority implementing contracts/auth.ts with jose and a
 * test RSA key (tokens RS256 with `sub` and `exp`; grants per uid), a real `sextant master` process
 * on a private loopback block with free ports, an EntryServer in front of it, and an HTTPS client
 * (HTTP/1.1 or HTTP/2) that trusts only the test CA.
 */
import fs from 'node:fs';
import https from 'node:https';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { SignJWT, generateKeyPair, jwtVerify, errors as joseErrors, type CryptoKey, type KeyObject } from 'jose';
import { createLogger, createRegistry, ensureCa, issueCert, systemClock, type Clock, type Registry } from '../../common/index.js';
import { AUTH_COOKIE, type Action, type AuthResult, type Authority, type Identity, type Permission } from '../../contracts/auth.js';
import { EntryServer, MasterUpstreams, NGINX, NginxFront, type EntryLimits, type Upstreams } from '../index.js';
import { INSECURE_DEV, freePort, loopbackBlock, spawnTracked, type Tracked } from '../../test/lib/index.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

const root = fileURLToPath(new URL('../../', import.meta.url));
export const sextantJs = path.join(root, 'dist', 'cli', 'sextant.js');

type Key = CryptoKey | KeyObject;

/** The stub identity service: users and their grants; `verifications` counts signature checks. */
export class StubAuthority implements Authority {
  verifications = 0;
  readonly grants = new Map<string, Permission[]>();
  private constructor(private readonly priv: Key, private readonly pub: Key, private readonly clock: Clock) {}

  static async create(clock: Clock = systemClock): Promise<StubAuthority> {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    return new StubAuthority(privateKey, publicKey, clock);
  }

  /** A user holding exactly these permissions (`superuser` passes everything). */
  user(uid: string, perms: Permission[] | 'superuser'): void {
    this.grants.set(uid, perms === 'superuser' ? [{ resource: 'dcos:superuser', action: 'full' }] : perms);
  }

  async token(uid: string, ttlS = 3600, key: Key = this.priv): Promise<string> {
    const now = Math.floor(this.clock.now() / 1000);
    return new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject(uid).setIssuedAt(now).setExpirationTime(now + ttlS).sign(key);
  }

  async authenticate(h: Record<string, string | string[] | undefined>): Promise<AuthResult> {
    const auth = typeof h.authorization === 'string' ? h.authorization : '';
    const cookie = typeof h.cookie === 'string' ? h.cookie.split(/;\s*/).find((c) => c.startsWith(`${AUTH_COOKIE}=`))?.slice(AUTH_COOKIE.length + 1) : undefined;
    const tok = auth.match(/^token=(.+)$/)?.[1] ?? auth.match(/^Bearer (.+)$/i)?.[1] ?? cookie;
    if (!auth && !cookie) return { ok: false, reason: 'missing', message: 'no token: send Authorization: token=<jwt>' };
    if (!tok || tok.split('.').length !== 3) return { ok: false, reason: 'malformed', message: 'the Authorization header is not token=<jwt> or Bearer <jwt>' };
    this.verifications++;
    try {
      const { payload } = await jwtVerify(tok, this.pub, { currentDate: new Date(this.clock.now()) });
      const uid = payload.sub ?? '';
      const g = this.grants.get(uid);
      if (!g) return { ok: false, reason: 'unknown-identity', message: `no identity '${uid}'` };
      return { ok: true, identity: { uid, kind: 'user', superuser: g.some((p) => p.resource === 'dcos:superuser'), ...(payload.exp ? { expiresAt: payload.exp * 1000 } : {}) } };
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired', message: 'the token expired' };
      if (e instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'bad-signature', message: 'the token signature does not verify' };
      return { ok: false, reason: 'malformed', message: (e as Error).message };
    }
  }

  async authorize(id: Identity, p: Permission): Promise<boolean> {
    if (id.superuser) return true;
    return (this.grants.get(id.uid) ?? []).some((g) => (g.resource === p.resource || p.resource.startsWith(`${g.resource}:`) || p.resource.startsWith(`${g.resource}/`) || (g.resource.endsWith('/') && p.resource.startsWith(g.resource))) && (g.action === 'full' || g.action === p.action));
  }
}

export function tmpDir(t: Teardownable, kind: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `sextant-entry-${kind}-`));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/**
 * nginx on `dir/nginx.conf` (prefix `dir`, error log `dir/error.log`), stopped at teardown (its error log's
 * tail printed when the test failed). `ready(probe)` retries `probe` every 50 ms while nginx starts (at most
 * 10 s) and returns its first answer other than undefined; it throws with nginx's output if nginx exits.
 */
export function runNginx(t: Test, dir: string): { ready<T>(probe: () => Promise<T | undefined>): Promise<T> } {
  const log = path.join(dir, 'error.log');
  const ng = spawn(NGINX, ['-p', dir, '-e', log, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  ng.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise((r) => ng.once('exit', r));
  t.teardown(async () => {
    if (ng.exitCode === null) ng.kill('SIGQUIT');
    await exited;
    if (!t.passing()) t.comment(`nginx's error log: ${fs.readFileSync(log, 'utf8').slice(-3000)}`);
  });
  return {
    async ready<T>(probe: () => Promise<T | undefined>): Promise<T> {
      for (let i = 0; ; i++) {
        if (ng.exitCode !== null) throw new Error(`nginx exited: ${err} ${fs.readFileSync(log, 'utf8')}`);
        const v = await probe();
        if (v !== undefined) return v;
        if (i >= 200) throw new Error(`nginx not answering in 10 s: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

export interface TestMaster {
  ip: string;
  port: number;
  marathonPort: number;
  mesosDnsPort: number;
  proc: Tracked;
  workDir: string;
}

/** A real `sextant master` (overlay, l4lb, mesos-dns, control) on a private loopback address and free ports. */
export async function spawnMaster(t: Teardownable, extra: string[] = [], env: NodeJS.ProcessEnv = {}, ip = loopbackBlock()(1)): Promise<TestMaster> {
  if (!fs.existsSync(sextantJs)) throw new Error(`${sextantJs} is missing: run \`npm run build\` first (npm test builds it as pretest)`);
  const [port, marathonPort, mesosDnsPort, dnsPort, controlPort] = await distinctPorts(ip, 5);
  const workDir = tmpDir(t, 'master');
  const proc = spawnTracked(t, process.execPath, [sextantJs, 'master', '--ip', ip, '--port', String(port), '--marathon-port', String(marathonPort), '--work-dir', workDir, ...INSECURE_DEV, ...extra], {
    env: { ...process.env, SEXTANT_LOG_LEVEL: 'warn', SEXTANT_MESOS_DNS_HTTP_PORT: String(mesosDnsPort), SEXTANT_MESOS_DNS_PORT: String(dnsPort), SEXTANT_CONTROL_PORT: String(controlPort), SEXTANT_L4LB_DRIVER: 'userspace', ...env },
  });
  await proc.waitFor(/sextant master listening on/, 30_000);
  return { ip, port: port!, marathonPort: marathonPort!, mesosDnsPort: mesosDnsPort!, proc, workDir };
}

async function distinctPorts(host: string, n: number): Promise<number[]> {
  const out = new Set<number>();
  for (let i = 0; out.size < n && i < 200; i++) out.add(await freePort(host));
  return [...out];
}

/** Which front the tests run through: SEXTANT_TEST_ENTRY_FRONT, else nginx when installed (the default of `sextant master`). */
export const TEST_FRONT: 'nginx' | 'node' = process.env.SEXTANT_TEST_ENTRY_FRONT === 'node' ? 'node' : process.env.SEXTANT_TEST_ENTRY_FRONT === 'nginx' || fs.existsSync(NGINX) ? 'nginx' : 'node';

export interface TestEntry {
  entry: EntryServer | NginxFront;
  url: string;
  ca: Buffer;
  registry: Registry;
  authority: StubAuthority;
}

/** An EntryServer on the master's address with a certificate from a fresh test CA. */
export async function startEntry(t: Teardownable, m: Pick<TestMaster, 'ip' | 'port' | 'marathonPort' | 'mesosDnsPort'>, o: { limits?: Partial<EntryLimits>; upstreams?: Upstreams; authority?: StubAuthority; clock?: Clock; front?: 'nginx' | 'node'; mesosPort?: number; runRoot?: string; checkModule?: string | null } = {}): Promise<TestEntry> {
  const dir = tmpDir(t, 'pki');
  const ca = await ensureCa(path.join(dir, 'ca'));
  const leaf = await issueCert(ca, dir, 'entry', { cn: m.ip, usage: 'server', ips: [m.ip] });
  const authority = o.authority ?? (await StubAuthority.create(o.clock));
  const registry = createRegistry();
  const upstreams = o.upstreams ?? new MasterUpstreams({ ip: m.ip, port: m.port, marathonPort: m.marathonPort, mesosDnsPort: m.mesosDnsPort, clock: systemClock });
  const common = {
    host: m.ip, cert: fs.readFileSync(leaf.cert), key: fs.readFileSync(leaf.key), upstreams, authority: () => authority, registry, log: createLogger('entry-test'),
    ...(o.limits ? { limits: o.limits } : {}), ...(o.clock ? { clock: o.clock } : {}),
  };
  const entry = (o.front ?? TEST_FRONT) === 'nginx'
    ? new NginxFront({ ...common, port: await freePort(m.ip), dir: tmpDir(t, 'front'), local: { marathon: { host: m.ip, port: m.marathonPort }, mesos: { host: m.ip, port: o.mesosPort ?? m.port }, mesosDns: { host: m.ip, port: m.mesosDnsPort } }, ...(o.runRoot ? { runRoot: o.runRoot } : {}), ...(o.checkModule !== undefined ? { checkModule: o.checkModule } : {}) })
    : new EntryServer({ ...common, port: 0 });
  await entry.start();
  t.teardown(() => entry.stop());
  return { entry, url: `https://${m.ip}:${entry.port}`, ca: fs.readFileSync(ca.cert), registry, authority };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): unknown;
}

/** One HTTPS/1.1 request trusting only `ca`; `token` goes as `Authorization: token=...`. */
export function request(url: string, ca: Buffer, o: { method?: string; token?: string; headers?: Record<string, string>; body?: string | Buffer; headersOnly?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(o.token ? { authorization: `token=${o.token}` } : {}), ...o.headers };
    if (o.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = Buffer.byteLength(o.body);
    }
    // The path goes out byte for byte (a URL object would normalize `..` and `%2e` away).
    const u = url.match(/^https:\/\/(\[[^\]]+\]|[^/:]+):(\d+)(\/.*)?$/);
    if (!u) return reject(new Error(`not an https URL with a port: ${url}`));
    const req = https.request({ host: u[1]!.replace(/^\[|\]$/g, ''), port: Number(u[2]), path: u[3] ?? '/', servername: undefined, method: o.method ?? 'GET', ca, headers, agent: false }, (res) => {
      if (o.headersOnly) {
        // A stream (SSE): the status and headers are the answer; the body is never read.
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', json: () => ({}) });
        return void req.destroy();
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('error', reject).on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** One HTTP/2 request (a fresh session) trusting only `ca`. */
export async function request2(url: string, ca: Buffer, path: string, o: { method?: string; token?: string } = {}): Promise<Reply & { alpn: string | false }> {
  const session = http2.connect(url, { ca });
  try {
    return await new Promise((resolve, reject) => {
      session.once('error', reject);
      const s = session.request({ ':method': o.method ?? 'GET', ':path': path, ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) });
      let headers: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      s.on('response', (h) => (headers = h as typeof headers));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('error', reject);
      s.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: Number(headers[':status']), headers, body, json: () => JSON.parse(body), alpn: session.alpnProtocol ?? false });
      });
      s.end();
    });
  } finally {
    session.close();
  }
}

export const grant = (resource: string, action: Action): Permission => ({ resource, action });
