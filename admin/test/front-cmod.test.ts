/**
 * Issue 30, the nginx front's C check (native/nginx-sextant/, front-conf.ts's `checkModule`) in real
 * nginx with the front's Lua (front-lua.ts with `cmod`), a stub Node on a unix socket and a stub
 * upstream. The hot location has the same shape as the front's: `sextant_check @miss @node` (which
 * sends streams to Node itself), and `@miss` with the Lua check. Which one answered shows in `X-Via` (c: the C table, lua: the
 * Lua check), Node's decisions are counted by the stub. Covered: a miss asks Node once, then C hits; a
 * decision's expiry (short TTL from the stub: awaited as the next question to Node, no sleep); a
 * refusal never kept; another credential (header or cookie) not served from an entry; POST, upgrade
 * and event-stream go to Node; the table's bound (emptied whole past WORKER_ENTRIES); the module's
 * writer refuses paths no plain path could be. And the front itself (NginxFront, a real master): it uses
 * the built module, and when nginx refuses the module (built for another nginx) it runs the Lua check alone.
 */
import t from 'tap';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LUA_MODULES } from '../router/front-conf.js';
import { FRONT_WORKER_ENTRIES, NGINX, NginxFront, frontCheckModulePath, frontLua } from '../index.js';
import { freePort } from '../../test/lib/index.js';
import { grant, request, request2, runNginx, spawnMaster, startEntry, tmpDir } from './lib.js';

t.setTimeout(120_000);
const MODULE = frontCheckModulePath();
if (!fs.existsSync(NGINX) || !LUA_MODULES.every((m) => fs.existsSync(m))) throw new Error(`${NGINX} or its Lua module is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);
if (!MODULE) throw new Error('native/build/nginx/ngx_http_sextant_check_module.so is not built: install nginx-dev (scripts/debian-packages.txt) and run npm run build');

/** Decision TTL per credential (ms); a credential not listed is refused (403). */
const ALLOW: Record<string, number> = { 'token=good': 3_600_000, 'token=short': 300, 'dcos-acs-auth-cookie=good': 3_600_000 };

t.test('the C check in front of the Lua check', async (t) => {
  const dir = tmpDir(t, 'cmod');
  const sock = path.join(dir, 'node.sock');
  const asked: { cred: string; uri: string }[] = [];
  const atNode: { method: string; uri: string }[] = [];
  let onAsk: (() => void) | undefined;
  const node = http.createServer((req, res) => {
    if (req.url === '/_sextant/auth') {
      const cred = String(req.headers.authorization ?? req.headers.cookie ?? '');
      asked.push({ cred, uri: String(req.headers['x-sextant-uri']) });
      onAsk?.();
      const ms = ALLOW[cred];
      res.writeHead(ms ? 200 : 403, { 'content-length': 0, ...(ms ? { 'x-sextant-decision-ms': ms } : {}) });
      return res.end();
    }
    atNode.push({ method: req.method!, uri: req.url! });
    res.writeHead(403, { 'content-type': 'text/plain', 'x-served': 'node' });
    res.end('node');
  });
  await new Promise<void>((r) => node.listen(sock, r));
  t.teardown(() => new Promise<void>((r) => node.close(() => r())));
  const upstream = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream-path': req.url! });
    res.end('upstream');
  });
  const upPort = await freePort('127.0.0.1');
  await new Promise<void>((r) => upstream.listen(upPort, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (upstream.closeAllConnections(), upstream.close(() => r()))));

  const port = await freePort('127.0.0.1');
  const lua = path.join(dir, 'front.lua');
  fs.writeFileSync(lua, frontLua(sock, true));
  fs.mkdirSync(path.join(dir, 'tmp'));
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `${[...LUA_MODULES, MODULE].map((m) => `load_module ${m};`).join('\n')}
${process.getuid?.() === 0 ? 'user root root; # the workers reach the stub socket in the 0700 test dir\n' : ''}worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/b; proxy_temp_path ${dir}/tmp/p; fastcgi_temp_path ${dir}/tmp/f; uwsgi_temp_path ${dir}/tmp/u; scgi_temp_path ${dir}/tmp/s;
  lua_shared_dict sextant_decisions 1m;
  init_by_lua_file ${lua};
  map $request_uri $sextant_rest { "~(?s)^/[^/?]+(?<r>/.*)$" $r; default /; }
  upstream up { server 127.0.0.1:${upPort}; keepalive 4; }
  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    location /hot/ {
      sextant_check @miss @node;
      proxy_pass http://up/;
      proxy_set_header Connection "";
      add_header X-Via c;
    }
    location @miss {
      access_by_lua_block { sextant_front.check() }
      proxy_pass http://up$sextant_rest;
      proxy_set_header Connection "";
      add_header X-Via lua;
    }
    location @node { proxy_pass http://unix:${sock}; }
    location = /remember { content_by_lua_block {
      local ffi = require "ffi"
      local a = ngx.req.get_uri_args()
      local n, cred, path = tonumber(a.n or 1), a.cred or "token=good", a.path
      local r = 0
      for i = 1, n do
        local p = n == 1 and path or (path .. i)
        r = ffi.C.sextant_front_remember(cred, #cred, p, #p, (ngx.now() + 3600) * 1000)
      end
      ngx.say(r)
    } }
  }
}
`);
  const nginx = runNginx(t, dir);
  const base = `http://127.0.0.1:${port}`;
  const get = async (p: string, headers: Record<string, string> = {}, method = 'GET') => {
    const r = await fetch(`${base}${p}`, { method, headers });
    return { status: r.status, via: r.headers.get('x-via'), node: r.headers.get('x-served') === 'node', upath: r.headers.get('x-upstream-path'), body: await r.text() };
  };
  await nginx.ready(() => fetch(`${base}/remember?path=/warm`).then(() => true, () => undefined));
  const good = { authorization: 'token=good' };

  t.test('a miss asks Node once, then the C table answers', async (t) => {
    const n = asked.length;
    const first = await get('/hot/master/state?x=1', good);
    t.same([first.status, first.via, first.upath], [200, 'lua', '/master/state?x=1'], 'first: the Lua check, proxied with the prefix cut and the query kept');
    t.equal(asked.length - n, 1, 'Node asked once');
    t.same(asked.at(-1), { cred: 'token=good', uri: '/hot/master/state?x=1' }, 'about this credential and target');
    for (const q of ['', '?y=2']) {
      const r = await get(`/hot/master/state${q}`, good);
      t.same([r.status, r.via, r.upath], [200, 'c', `/master/state${q}`], `then a C hit (query '${q}': keys have no query)`);
    }
    const head = await get('/hot/master/state', good, 'HEAD');
    t.same([head.status, head.via], [200, 'c'], 'HEAD: a C hit too');
    t.equal(asked.length - n, 1, 'Node not asked again');
  });

  t.test('another credential is not served from an entry', async (t) => {
    const n = asked.length;
    const other = await get('/hot/master/state', { authorization: 'token=bad' });
    t.same([other.status, other.node], [403, true], 'another token: asked, refused, answered by Node');
    const none = await get('/hot/master/state');
    t.same([none.status, none.node], [403, true], 'no credential: asked, refused');
    const cookie = await get('/hot/master/state', { cookie: 'dcos-acs-auth-cookie=good' });
    t.same([cookie.status, cookie.via], [200, 'lua'], 'the auth cookie: a credential of its own, asked');
    t.same([(await get('/hot/master/state', { cookie: 'dcos-acs-auth-cookie=good' })).via], ['c'], 'then a C hit');
    const other2 = await get('/hot/master/state', { cookie: 'dcos-acs-auth-cookie=good', authorization: 'token=bad' });
    t.same([other2.status, other2.node], [403, true], 'Authorization first: the cookie\'s entry does not serve it');
    t.same(asked.slice(n).map((a) => a.cred), ['token=bad', '', 'dcos-acs-auth-cookie=good', 'token=bad'], 'each asked of Node once');
  });

  t.test('a refusal is never kept', async (t) => {
    const n = asked.length;
    for (let i = 0; i < 3; i++) t.same((await get('/hot/refused', { authorization: 'token=bad' })).node, true, `refused ${i + 1}: Node's answer`);
    t.equal(asked.length - n, 3, 'each refusal asked Node again');
  });

  t.test('an entry ends with its decision', async (t) => {
    const short = { authorization: 'token=short' };
    const n = asked.length;
    t.equal((await get('/hot/short', short)).via, 'lua', 'first: asked (TTL 300 ms)');
    t.equal(asked.length - n, 1);
    // Requests until Node is asked again, the event that the entry expired: bounded in count and time.
    let again = false;
    const askedAgain = new Promise<void>((r) => (onAsk = () => ((again = true), r())));
    const until = Date.now() + 20_000;
    let last = { via: '' as string | null, status: 0 };
    let hits = 0;
    for (let i = 0; i < 100_000 && !again && Date.now() < until; i++) {
      last = await get('/hot/short', short);
      if (!again) {
        if (last.via === 'c') hits++;
        else break;
      }
    }
    await Promise.race([askedAgain, new Promise((r) => setTimeout(r, 100))]);
    onAsk = undefined;
    t.ok(again, `Node asked again once the decision expired (after ${hits} C hits)`);
    t.same([last.status, last.via], [200, 'lua'], 'that request went through the Lua check');
    t.equal(asked.length - n, 2, 'asked exactly twice');
  });

  t.test('writes, upgrades and event streams go to Node', async (t) => {
    const n = asked.length;
    const m = atNode.length;
    t.same((await get('/hot/master/state', good, 'POST')).node, true, 'POST with an allowed credential: Node');
    t.same((await get('/hot/master/state', good, 'DELETE')).node, true, 'DELETE: Node');
    t.same((await get('/hot/master/state', { ...good, accept: 'text/event-stream' })).node, true, 'event-stream: Node');
    t.same((await get('/hot/master/state', { ...good, accept: 'text/html, text/event-stream;q=0.5' })).node, true, 'event-stream among others: Node');
    t.same(atNode.slice(m).map((a) => `${a.method} ${a.uri}`), ['POST /hot/master/state', 'DELETE /hot/master/state', 'GET /hot/master/state', 'GET /hot/master/state'], 'with the request target unchanged');
    t.equal(asked.length - n, 0, 'none asked the check: Node decides them itself');
    const up = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/hot/master/state', headers: { ...good, connection: 'upgrade', upgrade: 'websocket' } });
      req.on('response', (r) => (r.resume(), resolve(r.headers['x-served'] === 'node' ? 1 : 0)));
      req.on('upgrade', (_r, s) => (s.destroy(), resolve(2)));
      req.on('error', reject);
      req.end();
    });
    t.equal(up, 1, 'an upgrade: Node');
  });

  t.test('odd paths are never served from the table', async (t) => {
    t.equal((await get('/remember?path=/hot/a%252fb')).body.trim(), '-1', 'the writer refuses a %-escape');
    t.equal((await get('/remember?path=/hot/a%3Fb')).body.trim(), '-1', 'a ?');
    t.equal((await get('/remember?path=/hot/a%0Db')).body.trim(), '-1', 'a CR');
    t.equal((await get('/remember?path=hot')).body.trim(), '-1', 'no leading /');
    t.equal((await get('/remember?path=/hot/%C3%A9')).body.trim(), '-1', 'a byte past ASCII');
    t.equal((await get('/remember?path=/hot/a%7Fb')).body.trim(), '-1', 'DEL');
    t.equal((await get('/remember?path=/hot/a%20b')).body.trim(), '-1', 'a space');
    const n = asked.length;
    const r = await get('/hot/master/%73tate', good);
    t.same([r.node, asked.length - n], [true, 0], 'an escaped spelling of a cached path: not a hit, Lua sends it to Node');
  });

  t.test('the table is bounded: emptied whole when full', async (t) => {
    const N = FRONT_WORKER_ENTRIES;
    t.equal((await get('/remember?path=/hot/bound')).body.trim(), '0', 'one entry written');
    t.equal((await get('/hot/bound', good)).via, 'c', 'served from the table');
    t.equal((await get(`/remember?path=/hot/fill&n=${N}`)).body.trim(), '0', `${N} more written`);
    const n = asked.length;
    const r = await get('/hot/bound', good);
    t.same([r.status, r.via, asked.length - n], [200, 'lua', 1], 'the first entry is gone: asked again');
    t.equal((await get('/hot/bound', good)).via, 'c', 'and kept again');
  });
});

t.test('the front uses the module, and the Lua check alone when nginx refuses it', async (t) => {
  const m = await spawnMaster(t);
  const bogus = path.join(tmpDir(t, 'cmod-bogus'), 'not-a-module.so');
  fs.writeFileSync(bogus, 'not an ELF file');
  for (const [label, checkModule, want] of [['built', undefined, MODULE], ['refused', bogus, undefined]] as const) {
    const e = await startEntry(t, m, { front: 'nginx', ...(checkModule ? { checkModule } : {}), limits: { tokenCacheMs: 1, frontDecisionMs: 60_000 } });
    t.equal((e.entry as NginxFront).checkModule, want, `${label}: ${want ? 'the C check' : 'the Lua check alone'}`);
    e.authority.user('erin', [grant('dcos:service:marathon:marathon:services:/', 'read')]);
    const tok = await e.authority.token('erin');
    t.equal((await request(`${e.url}/marathon/v2/apps`, e.ca, { token: tok })).status, 200, `${label}: a read is allowed`);
    const v = e.authority.verifications;
    t.equal((await request(`${e.url}/marathon/v2/apps`, e.ca, { token: tok })).status, 200, `${label}: again`);
    t.equal(e.authority.verifications, v, `${label}: served by nginx without asking Node`);
    const h2 = async () => { const r = await request2(e.url, e.ca, '/mesos/master/state', { token: tok }); return `${r.alpn} ${r.status}`; };
    t.equal(await h2(), 'h2 403', `${label}: HTTP/2, a read erin may not do: refused`);
    e.authority.user('erin', 'superuser');
    t.equal(await h2(), 'h2 200', `${label}: HTTP/2, allowed once granted`);
    const v2 = e.authority.verifications;
    t.equal(await h2(), 'h2 200', `${label}: HTTP/2, again`);
    t.equal(e.authority.verifications, v2, `${label}: HTTP/2 served by nginx without asking Node`);
    t.equal((await request(`${e.url}/marathon/v2/apps`, e.ca, { token: 'nope' })).status, 401, `${label}: a bad token is refused`);
    await e.entry.stop();
  }
});
