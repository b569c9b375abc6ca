/**
 * The nginx front's configuration (front.ts), as text: pure, no I/O. nginx terminates TLS (HTTP/2 and
 * HTTP/1.1) on the admin port; reads of the hot routes (GET/HEAD of `/marathon/`, `/mesos/`,
 * `/mesos_dns/` with a plain path) are proxied by nginx straight to this master's own ports over
 * keep-alive pools (mutual TLS with the master's certificate when the master has one), after a
 * decision check whose "allowed" nginx keeps for a short time keyed by the credential and the
 * path; everything else (writes, other routes, websockets, odd paths, refusals, redirects from the
 * upstream, upstream failures) goes to the Node entry point on a unix socket, which answers as it does
 * without the front. How the check is done (`check`):
 *  - `lua`: `access_by_lua` with a per-worker table and a `lua_shared_dict` of allowed decisions
 *    (libnginx-mod-http-lua; front-lua.ts); a hit never leaves nginx, a miss asks Node on its socket.
 *    With `checkModule` (native/nginx-sextant/, built by `npm run build` when nginx-dev is installed),
 *    the hit is C's instead: `sextant_check` in the hot location looks (credential, path) up in the
 *    worker's own table and proxies on a live entry; anything else goes to the route's named location
 *    `@sextant_check_<route>` (the same Lua check and proxying), whose Lua, once Node allowed, also
 *    writes the entry into the C table (front-lua.ts). Non-GET/HEAD requests go straight to `@node`.
 *    The module also counts the requests the hot locations end in (`sextant_count <route>`, in a shared
 *    memory zone), served as text by `sextant_stats` on a unix socket in `dir` (statsSocket(); never on
 *    the admin port), which front-stats.ts reads into the metrics: no access-log line per request then.
 *  - `auth_request`: stock nginx; the decision subrequest is cached with `proxy_cache` (the cache key,
 *    the credential itself, is written into the cache files: kept for the benchmark's comparison).
 */

export type FrontCheck = 'lua' | 'auth_request';

export interface FrontUpstream {
  host: string;
  port: number;
}

export interface FrontConf {
  /** Directory of the config, pid, Lua, certificates and keys: nginx's master's only. */
  dir: string;
  /**
   * Directory of what the workers open by path: Node's socket, the temp dirs, the decision cache
   * (auth_request), the logs they reopen. `dir` itself when nginx runs as one user (default).
   */
  runDir?: string;
  listen: FrontUpstream;
  cert: string;
  key: string;
  workers: number;
  /** The Node entry point's unix socket. */
  socket: string;
  check: FrontCheck;
  /** This master's ports the hot routes go to. */
  marathon: FrontUpstream;
  mesos: FrontUpstream;
  mesosDns: FrontUpstream;
  /** Mutual TLS to those ports: the master's certificate, key and CA files, and the name its certificate holds. */
  upstreamTls?: { cert: string; key: string; ca: string; name: string };
  /** Time to the upstream's response (hot routes); past it the request goes to Node, which answers 504. */
  upstreamTimeoutMs: number;
  /** The access log of the requests nginx served itself (front-log.ts reads it into the metrics); not written with `checkModule`, which counts them itself. */
  accessLog: string;
  /** Path of the Lua code (check `lua`). */
  luaFile: string;
  /** The C check's nginx module (check `lua` only; front-lua.ts must then be written with `cmod`). */
  checkModule?: string;
  /** `user group` nginx's workers run as (when nginx starts as root: front.ts picks an unprivileged one). */
  user?: string;
  /** Largest client header line nginx accepts (Node checks the total against its own limit). */
  maxHeaderBytes: number;
}

export const LUA_MODULES = ['/usr/lib/nginx/modules/ndk_http_module.so', '/usr/lib/nginx/modules/ngx_http_lua_module.so'];
/** The log line format of front-log.ts: route, status, upstream header time(s); one format per route (no variable to set per request). */
export const accessFormat = (route: string) => `${route} $status $upstream_header_time`;
const HOT_ROUTES = ['marathon', 'mesos', 'mesos_dns'];

/** The unix socket of the C module's counters (`checkModule`): in `dir`, which only nginx's master and Node reach. */
export const statsSocket = (c: Pick<FrontConf, 'dir'>) => `${c.dir}/stats.sock`;
/** Where front-stats.ts asks for them. */
export const STATS_PATH = '/_sextant/stats';

const counted = (c: FrontConf) => c.check === 'lua' && c.checkModule !== undefined;

const hostPort = (u: FrontUpstream) => (u.host.includes(':') ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`);

/** What Node needs to know about the client's connection, on every request nginx passes to it. */
function clientHeaders(): string {
  return `      proxy_set_header X-Sextant-Client $remote_addr;
      proxy_set_header X-Sextant-Client-Port $remote_port;
      proxy_set_header X-Sextant-Server $server_addr;
      proxy_set_header X-Sextant-Server-Port $server_port;`;
}

/** Everything Node serves: streaming both ways (SSE, large bodies), upgrades, no nginx limits of its own. */
function toNode(): string {
  return `      proxy_pass http://sextant_node;
      proxy_set_header Host $http_host;
      proxy_set_header Connection $sextant_connection;
      proxy_set_header Upgrade $http_upgrade;
${clientHeaders()}
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1d;
      proxy_send_timeout 1d;
      access_log off;`;
}

/**
 * What the hot routes do not pass to the master's APIs (`proxy_set_header X ""` drops X, at no cost per
 * request): the client's credential (`Authorization`, `Cookie`) stays at the edge, and `Forwarded`, the
 * client's own included, is not sent: none of those APIs reads them (they trust the entry point's
 * certificate, and nginx checked the credential), so the token is not replayable from an upstream and a
 * client cannot pose as an earlier proxy hop there. Node's route sends Forwarded as before.
 */
export const HOT_DROPPED_HEADERS = ['Authorization', 'Cookie', 'Forwarded'];

/** The proxying of a hot route (its upstream, TLS, timeouts, what goes back to Node, its log line). */
function hotProxy(c: FrontConf, route: string, up: FrontUpstream, uri: string): string {
  const scheme = c.upstreamTls ? 'https' : 'http';
  const tls = c.upstreamTls
    ? `
      proxy_ssl_certificate ${c.upstreamTls.cert};
      proxy_ssl_certificate_key ${c.upstreamTls.key};
      proxy_ssl_trusted_certificate ${c.upstreamTls.ca};
      proxy_ssl_verify on;
      proxy_ssl_name ${c.upstreamTls.name};
      proxy_ssl_session_reuse on;`
    : '';
  return `      proxy_pass ${scheme}://sextant_${route}${uri};${tls}
      proxy_set_header Host ${hostPort(up)};
      proxy_set_header Connection "";
${HOT_DROPPED_HEADERS.map((h) => `      proxy_set_header ${h} "";`).join('\n')}
      proxy_connect_timeout 5s;
      proxy_read_timeout ${c.upstreamTimeoutMs}ms;
      proxy_send_timeout ${c.upstreamTimeoutMs}ms;
      proxy_intercept_errors on;
      error_page ${c.check === 'auth_request' ? '401 403 ' : ''}301 302 303 307 308 418 500 502 503 504 = @node;
      ${counted(c) ? `sextant_count ${route};` : `access_log ${c.accessLog} sextant_${route} buffer=32k flush=1s;`}`;
}

function hotLocation(c: FrontConf, prefix: string, route: string, up: FrontUpstream): string {
  // Streams are Node's (nginx's hot path times out between reads): an upgrade, or any text/event-stream.
  // Tested here, in the rewrite phase, for both checks: an `if` on an indexed variable costs nginx less
  // than Lua reading the two headers by name (0.9k against 1.4k instructions per request, measured).
  const streams = `      if ($http_upgrade) { return 418; }
      if ($http_accept ~ event-stream) { return 418; }`;
  const lua = '      access_by_lua_block { sextant_front.check() }';
  // The C check tests them itself (the first Accept header, as $http_accept), sending them to @node.
  const check = c.check === 'lua'
    ? c.checkModule ? `      sextant_check @sextant_check_${route} @node;` : `${streams}\n${lua}`
    : `      if ($request_method !~ ^(GET|HEAD)$) { return 418; }
${streams}
      if ($request_uri ~ /v2/events) { return 418; }
      if ($sextant_plain = 0) { return 418; }
      auth_request /_sextant/auth-cached;`;
  const located = `    location ${prefix}/ {
${check}
${hotProxy(c, route, up, '/')}
    }`;
  if (c.check !== 'lua' || !c.checkModule) return located;
  // The C check's miss: the Lua check. A named location cannot give proxy_pass a fixed URI: the target
  // less its first segment ($sextant_rest) is passed, which for the plain paths Lua lets through is what
  // the prefix location passes; r->uri stays as it is for @node. The streams were tested already.
  return `${located}
    location @sextant_check_${route} {
${lua}
${hotProxy(c, route, up, '$sextant_rest')}
    }`;
}

export function nginxConf(c: FrontConf): string {
  const run = c.runDir ?? c.dir;
  const t = `${run}/tmp`;
  const lua = c.check === 'lua';
  const line = Math.max(8192, c.maxHeaderBytes + 1024);
  const upstream = (name: string, u: FrontUpstream) => `  upstream sextant_${name} {\n    server ${hostPort(u)} max_fails=0;\n    keepalive 64;\n  }`;
  return `# The entry point's nginx front, written by sextant (admin/router/front-conf.ts) at every start: do not edit.
${lua ? [...LUA_MODULES, ...(c.checkModule ? [c.checkModule] : [])].map((m) => `load_module ${m};`).join('\n') : ''}
${c.user ? `user ${c.user};
` : ''}worker_processes ${c.workers};
daemon off;
master_process on;
pid ${c.dir}/nginx.pid;
error_log ${run}/error.log warn;
worker_shutdown_timeout 5s;
events {
  worker_connections 4096;
}
http {
  default_type application/octet-stream;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  access_log off;
  server_tokens off;
  underscores_in_headers on;
  ignore_invalid_headers off;
${counted(c) ? '' : HOT_ROUTES.map((r) => `  log_format sextant_${r} '${accessFormat(r)}';`).join('\n')}
${lua ? `  lua_shared_dict sextant_decisions 16m;\n  init_by_lua_file ${c.luaFile};` : `  proxy_cache_path ${run}/decisions levels=1:2 keys_zone=sextant_decisions:4m max_size=64m inactive=10s use_temp_path=off;`}
  map $http_upgrade $sextant_connection {
    default upgrade;
    '' '';
  }
  map $request_uri $sextant_plain {
    "~^(/[A-Za-z0-9_~!$&'()*+,;=:@.-]+)+/?(\\?.*)?$" 1;
    default 0;
  }
${c.checkModule && lua ? `  map $request_uri $sextant_rest {
    "~(?s)^/[^/?]+(?<r>/.*)$" $r;
    default /;
  }
` : ''}  map $request_uri $sextant_path {
    "~^(?<p>[^?]*)" $p;
  }
  upstream sextant_node {
    server unix:${c.socket};
    keepalive 32;
  }
${upstream('marathon', c.marathon)}
${upstream('mesos', c.mesos)}
${upstream('mesos_dns', c.mesosDns)}
  server {
    listen ${hostPort(c.listen)} ssl http2;
    ssl_certificate ${c.cert};
    ssl_certificate_key ${c.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:sextant_tls:4m;
    ssl_session_timeout 1h;
    client_max_body_size 0;
    large_client_header_buffers 8 ${line};
    keepalive_requests 100000;
    keepalive_timeout 75s;
    proxy_http_version 1.1;
    proxy_redirect off;

    location / {
${toNode()}
    }
    location @node {
${toNode()}
    }
    location ^~ /_sextant/ {
      return 404;
    }
    location = /_sextant/auth {
      internal;
      proxy_pass http://sextant_node;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Connection "";
      proxy_set_header X-Sextant-Uri $request_uri;
${clientHeaders()}
      access_log off;
    }
${lua ? '' : `    location = /_sextant/auth-cached {
      internal;
      proxy_pass http://sextant_node/_sextant/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Connection "";
      proxy_set_header X-Sextant-Uri $request_uri;
${clientHeaders()}
      proxy_cache sextant_decisions;
      proxy_cache_key "$http_authorization|$http_cookie|$sextant_path";
      proxy_cache_valid 200 1s;
      proxy_cache_methods GET HEAD;
      proxy_cache_lock off;
      access_log off;
    }
`}${hotLocation(c, '/marathon', 'marathon', c.marathon)}
${hotLocation(c, '/mesos', 'mesos', c.mesos)}
${hotLocation(c, '/mesos_dns', 'mesos_dns', c.mesosDns)}
  }${counted(c) ? `
  server {
    listen unix:${statsSocket(c)};
    location = ${STATS_PATH} {
      sextant_stats;
    }
    location / {
      return 404;
    }
  }` : ''}
}
`;
}
