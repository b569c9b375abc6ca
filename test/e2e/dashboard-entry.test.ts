/**
 * Issues 29 and 30 together: the dashboard behind the real HTTPS entry point and identity service of
 * a `sextant up`. A user who may only read Marathon services logs in on the page's form (401 -> form),
 * the Services page loads through the entry point, and a deploy from the page is refused by the entry
 * point with 403: the page shows the entry point's message naming the permission, and nothing is
 * deployed.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, requireTools } from '../lib/index.js';
import { spawnUp, upArgs, upPlan, upWorkDir } from './up-lib.js';

t.setTimeout(240_000);
const CHROMIUM = '/usr/bin/chromium';
const READ_SERVICES = 'dcos:service:marathon:marathon:services:/';

/** One HTTPS request to the entry point, trusting only the cluster CA. */
function call(ca: Buffer, entry: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(`${entry}${path}`, { method, ca, timeout: 20_000, headers: { authorization: `token=${token}`, ...(data ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

t.test('the dashboard through the entry point: login form, then a write without the permission shows the 403', async (t) => {
  requireTools(CHROMIUM);
  const plan = await upPlan();
  const admin = await freePort(`${plan.ipBase}.1`);
  const dir = upWorkDir(t, 'dashentry');
  const file = join(dir, 'status.json');
  const up = spawnUp(t, upArgs(plan, dir, 1, ['--no-example', '--status-file', file, '--admin-port', String(admin)], { secure: true }), dir);
  await up.waitFor(/sextant up: (ready|not ready)/, 120_000);
  const s = JSON.parse(readFileSync(file, 'utf8')) as { entry?: string; ca?: string; token?: string };
  t.ok(s.entry && s.ca && s.token, 'the status file has the entry point, its CA and a superuser token');
  const entry = s.entry!;
  const token = s.token!;
  const ca = readFileSync(s.ca!);

  const created = await call(ca, entry, token, 'PUT', '/acs/api/v1/users/viewer', { password: 'viewer-pass-15', description: 'reads services' });
  t.equal(created.status, 201, `the superuser creates a user (${created.text})`);
  const granted = await call(ca, entry, token, 'PUT', `/acs/api/v1/acls/${encodeURIComponent(encodeURIComponent(READ_SERVICES))}/users/viewer/read`);
  t.equal(granted.status, 204, `and grants it ${READ_SERVICES} read (${granted.text})`);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  // The page is served over HTTPS with the cluster CA, which this throwaway browser profile does not hold.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${entry}/#/services`);
  await page.locator('#login').waitFor({ timeout: 30_000 });
  t.pass('without a token the page shows the login form (the entry point answered 401)');
  await page.fill('#login input[name=uid]', 'viewer');
  await page.fill('#login input[name=password]', 'viewer-pass-15');
  await page.click('#login button[type=submit]');
  await page.locator('#apps').waitFor({ timeout: 30_000 });
  t.pass('after logging in, the Services page loads through the entry point');

  await page.click('[data-testid=deploy]');
  const denied = page.locator('#deploy .error', { hasText: `viewer lacks the permission ${READ_SERVICES}` });
  await denied.waitFor({ timeout: 30_000 });
  t.match(await denied.textContent(), /update/, "the page shows the entry point's 403 message, naming the permission and the action");

  const apps = await call(ca, entry, token, 'GET', '/marathon/v2/apps');
  t.equal(apps.status, 200);
  t.same((JSON.parse(apps.text) as { apps: unknown[] }).apps, [], 'nothing was deployed');
  t.same(pageErrors, [], 'no JavaScript error on the page');
});
