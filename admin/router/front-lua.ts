/**
 * The Lua side of the nginx front's check `lua` (front-conf.ts loads it with init_by_lua_file):
 * `sextant_front.check()` runs in the access phase of a hot route. Only GET/HEAD without an upgrade,
 * not for a stream (`/v2/events`, `Accept: text/event-stream`), with a plain path (no %-escapes, no
 * dot or empty segments) may be served by nginx; the rest goes to Node (`@node`), which refuses or
 * serves it as without the front. The upgrade and `Accept` tests are the location's own (front-conf.ts:
 * nginx's rewrite phase sends those requests to Node before this runs); the method and path are here.
 *
 * An allowed decision is kept for what Node said (`x-sextant-decision-ms`: the decision TTL, never
 * past the token's expiry), in two places:
 *  - a per-worker Lua table, credential -> path -> expiry (no lock, no hash of the credential: the
 *    hit path is two table lookups), at most `WORKER_ENTRIES` entries (emptied whole when full);
 *  - the shared dictionary, under SHA-1(credential) .. path with the expiry as its value, so that
 *    another worker's miss finds it (looked at only when the worker's own table misses).
 * A refusal is never kept (Node answers it, counting it once). Keys are the path without the query:
 * no permission depends on the query (admin/test/routes-walk.test.ts asserts it for every route).
 * A miss asks Node's `/_sextant/auth` over a pooled cosocket on its unix socket (lua-nginx-module's
 * subrequests do not work for HTTP/2 requests); that request is written by `request_for`, which
 * refuses any value holding CR, LF or NUL (400: nothing is sent, to Node or the upstream).
 *
 * With `cmod` (the C check, front-conf.ts's `checkModule`), this runs only on the C check's misses, and
 * the per-worker table is the C module's: `remember` writes there (LuaJIT's ffi, calling the module's
 * exported sextant_front_remember) instead of the Lua table, which then stays empty.
 */

/** Entries each nginx worker keeps in its own table before emptying it. */
export const WORKER_ENTRIES = 10_000;

export function frontLua(socket: string, cmod = false): string {
  return `-- written by sextant (admin/router/front-lua.ts): do not edit
local dict = ngx.shared.sextant_decisions
local sha1 = ngx.sha1_bin
local exec = ngx.exec
local exit = ngx.exit
local say = ngx.say
local header = ngx.header
local now = ngx.now
local get_method = ngx.req.get_method
local var = ngx.var
local tcp = ngx.socket.tcp
local find = string.find
local sub = string.sub
local byte = string.byte
local concat = table.concat
local SOCKET = "unix:${socket}"
local WORKER_ENTRIES = ${WORKER_ENTRIES}
${cmod ? `local ffi = require "ffi"
ffi.cdef[[int sextant_front_remember(const char *cred, size_t clen, const char *path, size_t plen, double expiry_ms);]]
local C = ffi.C
` : ''}
-- credential -> { path -> expiry (ngx.now() seconds) }; this worker's only
local cache = {}
local entries = 0

sextant_front = {}

-- The request to Node's check, or nil and the name of the first field whose value holds CR, LF or NUL.
-- fields: a list of { name, value } (value nil: the field is left out).
function sextant_front.request_for(fields)
  local out = { "GET /_sextant/auth HTTP/1.1\\r\\nHost: sextant\\r\\n" }
  for i = 1, #fields do
    local f = fields[i]
    local v = f[2]
    if v ~= nil then
      v = tostring(v)
      if find(v, "[%z\\r\\n]") then return nil, f[1] end
      out[#out + 1] = f[1] .. ": " .. v .. "\\r\\n"
    end
  end
  out[#out + 1] = "\\r\\n"
  return concat(out)
end

-- Ask Node: the decision's lifetime in ms when allowed, nil otherwise (refused, or Node unreachable).
local function ask(req)
  local s = tcp()
  s:settimeout(5000)
  if not s:connect(SOCKET) then return nil end
  if not s:send(req) then s:close() return nil end
  local status = s:receive("*l")
  if not status then s:close() return nil end
  local ms = nil
  while true do
    local line = s:receive("*l")
    if not line then s:close() return nil end
    if line == "" then break end
    local v = line:match("^[Xx]%-[Ss]extant%-[Dd]ecision%-[Mm]s:%s*(%d+)")
    if v then ms = tonumber(v) end
  end
  s:setkeepalive(60000, 64)
  if sub(status, 10, 12) ~= "200" then return nil end
  return ms
end

-- A path nginx may serve: /seg(/seg)*[/] with segments of unreserved and sub-delim characters, none
-- of them . or .., no %-escape, not a stream.
local function plain(path)
  if byte(path, 1) ~= 47 then return false end
  if find(path, "[^%w_~!$&'()*+,;=:@./-]") then return false end
  if find(path, "//", 1, true) or find(path, "/%.%.?/") or find(path, "/%.%.?$") then return false end
  if path == "/" or find(path, "/v2/events", 1, true) then return false end
  return true
end

local function remember(cred, path, expiry)
${cmod ? `  C.sextant_front_remember(cred, #cred, path, #path, expiry * 1000)
  do return end
` : ''}  local per = cache[cred]
  if per == nil then
    if entries >= WORKER_ENTRIES then
      cache = {}
      entries = 0
    end
    per = {}
    cache[cred] = per
  end
  if per[path] == nil then entries = entries + 1 end
  per[path] = expiry
end

function sextant_front.check()
  local method = get_method()
  if method ~= "GET" and method ~= "HEAD" then return exec("@node") end
  -- upgrades and text/event-stream never get here (the location's rewrite phase); /v2/events is not plain()
  local uri = var.request_uri
  local q = find(uri, "?", 1, true)
  local path = q and sub(uri, 1, q - 1) or uri
  local auth = var.http_authorization
  local cookie = nil
  local cred = auth
  if not cred then
    cookie = var.http_cookie
    if cookie and find(cookie, "dcos-acs-auth-cookie", 1, true) then cred = cookie else cred = "" end
  end
  local t = now()
  local per = cache[cred]
  if per then
    local e = per[path]
    if e and e > t then return end
  end
  -- a miss: only a plain path is looked up or kept (a hit above was plain when it was kept)
  if not plain(path) then return exec("@node") end
  local key = sha1(cred) .. path
  local shared = dict:get(key)
  if shared and shared > t then
    remember(cred, path, shared)
    return
  end
  if auth then cookie = var.http_cookie end
  local req, bad = sextant_front.request_for({
    { "X-Sextant-Uri", uri }, { "X-Sextant-Client", var.remote_addr }, { "X-Sextant-Client-Port", var.remote_port },
    { "Authorization", auth }, { "Cookie", cookie },
  })
  if not req then
    ngx.status = 400
    header["Content-Type"] = "application/json"
    say('{"code":"bad-header","message":"the ', bad == "X-Sextant-Uri" and "request target" or bad, ' holds CR, LF or NUL"}')
    return exit(400)
  end
  local ms = ask(req)
  if ms and ms > 0 then
    local expiry = t + ms / 1000
    dict:set(key, expiry, ms / 1000)
    remember(cred, path, expiry)
    return
  end
  if ms then return end
  return exec("@node")
end
`;
}
