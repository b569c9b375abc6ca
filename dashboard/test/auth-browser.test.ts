/**
 * The page behind a login, in Chromium: the built bundle served by the dashboard plugin, behind a
 * small gate standing in for the entry point (issue 30) that answers 401 without a token, issues
 * one at POST /acs/api/v1/auth/login, accepts it as `Authorization: token=...` or as the
 * dcos-acs-auth-cookie cookie, and refuses writes with 403 and a message naming the permission.
 * Checks: a 401 shows the login form; after logging in the pages load and the event stream
 * (which can only send the cookie) is up; a write without the permission shows the 403 message;
 * when the event stream goes down the page says so.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { createRegistry, handle, Router } from '../../common/index.js';
import { AUTH_COOKIE, type MasterHandle } from '../../contracts/index.js';
import { masterHost, requireTools } from '../../test/lib/index.js';
import { dashboardMasterPlugin, defaultAssetsDir } from '../index.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'tok-ops-1';
const DENIED = 'ops lacks dcos:service:marathon:marathon:services:/ full';

requireTools(CHROMIUM);
const assetsDir = defaultAssetsDir();
if (!existsSync(join(assetsDir, 'app.js'))) throw new Error(`${assetsDir}/app.js is missing: run \`npm run build\` (npm test builds it first)`);

t.test('login on 401, the cookie for the event stream, the 403 message, a stream that goes down', async (t) => {
  const mesos = new Router();
  const marathon = new Router();
  const streams = new Set<http.ServerResponse>();
  let eventsUp = true;
  let refused = 0;
  let onRefused = () => {};
  marathon.get('/v2/apps', () => ({ json: { apps: [] } }));
  marathon.post('/v2/apps', () => ({ status: 201, json: {} }));
  marathon.get('/v2/events', (_r, res) => {
    if (!eventsUp) {
      refused++;
      onRefused();
      return { status: 503, json: { message: 'Marathon is restarting' } };
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('event: event_stream_attached\ndata: {}\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
    return { hijacked: true };
  });
  mesos.get('/v1/control/agents', () => ({ json: { history: 'h', version: 1, agents: [] } }));
  mesos.get('/v1/l4lb/vips', () => ({ json: { vips: [], problems: [] } }));
  const h: MasterHandle = {
    masterId: 'm1', ip: '127.0.0.1', port: 0,
    state: () => ({ slaves: [] }),
    onChange: () => () => undefined,
    store: undefined as never,
    routes: (reg) => reg(mesos),
    registry: createRegistry(),
    apis: new Map([['/mesos', mesos], ['/marathon', marathon], ['/net', mesos]]),
  };
  const comp = dashboardMasterPlugin({ sampler: { controlMs: 60_000 } })(masterHost(h, 'dashboard'));
  await comp.start();
  t.teardown(() => comp.stop());
  const seen: { path: string; via: string }[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const cookie = new RegExp(`(?:^|; )${AUTH_COOKIE}=([^;]*)`).exec(req.headers.cookie ?? '')?.[1];
    const header = /^token=(.*)$/.exec(req.headers.authorization ?? '')?.[1];
    const open = path === '/' || path.startsWith('/assets/');
    if (path === '/acs/api/v1/auth/login' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const b = JSON.parse(body || '{}');
        const ok = b.uid === 'ops' && b.password === 'secret';
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify(ok ? { token: TOKEN } : { message: 'wrong user or password' }));
      });
      return;
    }
    if (!open && header !== TOKEN && decodeURIComponent(cookie ?? '') !== TOKEN) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ message: 'missing token' }));
    }
    if (!open) seen.push({ path, via: header ? 'header' : 'cookie' });
    if (req.method !== 'GET' && path.startsWith('/marathon/')) {
      res.writeHead(403, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ message: DENIED }));
    }
    void handle(mesos, req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of streams) s.destroy();
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${url}/#/services`);
  await page.locator('#login').waitFor({ timeout: 20_000 });
  t.pass('a 401 shows the login form');
  await page.fill('#login input[name=uid]', 'ops');
  await page.fill('#login input[name=password]', 'wrong');
  await page.click('#login button[type=submit]');
  await page.locator('#login .error', { hasText: 'wrong user or password' }).waitFor();
  t.pass("a failed login shows the API's message");
  await page.fill('#login input[name=password]', 'secret');
  await page.click('#login button[type=submit]');
  await page.locator('#apps').waitFor({ timeout: 20_000 });
  await page.locator('[data-stream="events"].up').waitFor({ timeout: 20_000 });
  t.pass('after logging in the Services page loads and the event stream is up');
  t.ok(seen.some((s) => s.path === '/marathon/v2/apps' && s.via === 'header'), 'API calls carry Authorization: token=...');
  t.ok(seen.some((s) => s.path === '/marathon/v2/events' && s.via === 'cookie'), 'the event stream is let in by the cookie');

  await page.click('[data-testid=deploy]');
  await page.locator('#deploy .error', { hasText: DENIED }).waitFor();
  t.pass('a write without the permission shows the 403 message');

  eventsUp = false;
  for (const s of streams) s.destroy();
  await page.locator('#stream-down', { hasText: 'event stream is down' }).waitFor({ timeout: 20_000 });
  await page.locator('[data-stream="events"].down').waitFor();
  t.pass('the page says when the event stream is down');
  // EventSource gives up after a 503; the page must open a new one.
  if (refused === 0) await new Promise<void>((r) => (onRefused = r));
  eventsUp = true;
  await page.locator('[data-stream="events"].up').waitFor({ timeout: 30_000 });
  t.pass(`and that it is back once Marathon answers again (after ${refused} refused reconnect(s))`);
  t.same(pageErrors, [], 'no JavaScript error');
});
