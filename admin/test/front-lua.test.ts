/**
 * Issue 30, the nginx front's Lua (admin/router/front-lua.ts) run by nginx's own LuaJIT: the writer of
 * the request to Node's check refuses any value holding CR, LF or NUL (naming the field) and writes
 * the others byte for byte, leaving out absent fields.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { LUA_MODULES } from '../router/front-conf.js';
import { NGINX, frontLua } from '../index.js';
import { freePort } from '../../test/lib/index.js';
import { runNginx, tmpDir } from './lib.js';

if (!fs.existsSync(NGINX) || !LUA_MODULES.every((m) => fs.existsSync(m))) throw new Error(`${NGINX} or its Lua module is missing: install nginx-light and libnginx-mod-http-lua (scripts/debian-packages.txt)`);

/** Cases run inside nginx: [label, Lua list of fields]; the answer per case is base64 of the request, or `refused <field>`. */
const CASES: [string, string][] = [
  ['plain', '{ { "X-Sextant-Uri", "/marathon/v2/apps?x=1" }, { "X-Sextant-Client", "127.0.0.1" }, { "X-Sextant-Client-Port", 4242 }, { "Authorization", "token=abc" }, { "Cookie", nil } }'],
  ['crlf in the credential', '{ { "X-Sextant-Uri", "/a" }, { "Authorization", "token=abc\\r\\nX-Sextant-Uri: /acs/api/v1/users" } }'],
  ['lf alone', '{ { "X-Sextant-Uri", "/a" }, { "Cookie", "a=b\\nx: y" } }'],
  ['cr alone', '{ { "X-Sextant-Uri", "/a\\rb" } }'],
  ['nul', '{ { "X-Sextant-Uri", "/a" }, { "Authorization", "token=a\\0b" } }'],
  ['other control bytes are nginx\'s to judge', '{ { "Authorization", "token=a\\tb\\1" } }'],
];

t.test('request_for: CR, LF and NUL are refused, naming the field; the rest written as given', async (t) => {
  const dir = tmpDir(t, 'lua');
  const port = await freePort('127.0.0.1');
  const lua = path.join(dir, 'front.lua');
  fs.writeFileSync(lua, frontLua(path.join(dir, 'entry.sock')));
  fs.mkdirSync(path.join(dir, 'tmp'));
  const body = CASES.map(([, fields]) => `do local r, bad = sextant_front.request_for(${fields}) ngx.say(r and ngx.encode_base64(r) or ("refused " .. bad)) end`).join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `${LUA_MODULES.map((m) => `load_module ${m};`).join('\n')}
worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/b; proxy_temp_path ${dir}/tmp/p; fastcgi_temp_path ${dir}/tmp/f; uwsgi_temp_path ${dir}/tmp/u; scgi_temp_path ${dir}/tmp/s;
  lua_shared_dict sextant_decisions 1m;
  init_by_lua_file ${lua};
  server {
    listen 127.0.0.1:${port};
    location = /cases { content_by_lua_block {
${body}
    } }
  }
}
`);
  const text = await runNginx(t, dir).ready(() => fetch(`http://127.0.0.1:${port}/cases`).then((r) => r.text(), () => '').then((x) => x || undefined));
  const got = text.trim().split('\n');
  t.equal(got.length, CASES.length, `one answer per case: ${text}`);
  const req = (s: string) => Buffer.from(s, 'base64').toString('latin1');
  t.equal(req(got[0]!), 'GET /_sextant/auth HTTP/1.1\r\nHost: sextant\r\nX-Sextant-Uri: /marathon/v2/apps?x=1\r\nX-Sextant-Client: 127.0.0.1\r\nX-Sextant-Client-Port: 4242\r\nAuthorization: token=abc\r\n\r\n', 'the fields in order, the absent cookie left out');
  t.equal(got[1], 'refused Authorization', 'CR LF in the credential: refused, nothing written');
  t.equal(got[2], 'refused Cookie', 'a bare LF: refused');
  t.equal(got[3], 'refused X-Sextant-Uri', 'a bare CR in the target: refused');
  t.equal(got[4], 'refused Authorization', 'NUL: refused');
  t.equal(req(got[5]!), 'GET /_sextant/auth HTTP/1.1\r\nHost: sextant\r\nAuthorization: token=a\tb\x01\r\n\r\n', 'a tab or another control byte is no line break: written');
});
