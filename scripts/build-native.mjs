#!/usr/bin/env node
/**
 * Builds the native modules (`native/udpbatch.c`, see common/udp-batch.ts; `native/tcprelay.c`,
 * see l4lb/userspace/native-relay.ts; `native/nfnetlink.c`, see l4lb/nft/netlink.ts; `native/malloctrim.c`,
 * see agent/malloc.ts; `native/memrelease.cc`, C++ against V8's own header, see agent/release.ts) with node-gyp against the headers of the Node running this
 * script. Sextant works without them: the DNS servers then use Node's dgram sockets and the
 * userspace L4LB relays with net.Socket, both slower; the agent does not trim malloc's free memory, cap its arenas or give V8's idle memory back. So a failed build warns and exits 0, unless
 * SEXTANT_NATIVE=required (exit 1), or SEXTANT_NATIVE=0 skips it.
 * Then the nginx front's C check (`native/nginx-sextant/`, see admin/router/front-conf.ts) as an nginx
 * dynamic module, against Debian's nginx-dev tree (/usr/share/nginx/src: configure with the flags the
 * packaged nginx was built with, `make modules`) into native/build/nginx/; without nginx-dev the front
 * keeps its Lua check (logged here, same exit rules).
 * Usage: node scripts/build-native.mjs   (run by `npm run build` after tsc)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const mode = process.env.SEXTANT_NATIVE ?? 'auto';
if (mode === '0') process.exit(0);

/** Node's own headers ship beside its binary (`<prefix>/include/node`): use them, never a download. */
const prefix = dirname(dirname(process.execPath));
const headers = existsSync(join(prefix, 'include', 'node', 'node_api.h'));
const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', '--directory', join(root, 'native'), '--loglevel', 'warn'];
if (headers) args.push(`--nodedir=${prefix}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
const failed = [];
if (r.status !== 0) {
  const why = headers ? `node-gyp exited ${r.status ?? r.signal}` : `no Node headers under ${prefix}/include/node and node-gyp could not fetch them`;
  failed.push(`native modules not built (${why}; they need make, a C compiler and python3). DNS servers fall back to Node's dgram sockets, the userspace L4LB to net.Socket.`);
}
const ngx = buildNginxModule();
if (ngx) failed.push(ngx);
for (const msg of failed) console[mode === 'required' ? 'error' : 'warn'](`build-native: ${msg}`);
if (failed.length && mode === 'required') process.exit(1);

/** The nginx front's check module into native/build/nginx/; undefined when built, else why not. */
function buildNginxModule() {
  const NAME = 'ngx_http_sextant_check_module';
  const src = '/usr/share/nginx/src';
  if (!existsSync(join(src, 'conf_flags'))) return `the nginx front's C check not built: no ${src} (install nginx-dev). The front keeps its Lua check.`;
  // conf_flags is a bash array: NGX_CONF_FLAGS=( --prefix=... --with-compat ... ); no value holds a space.
  const m = /NGX_CONF_FLAGS=\(([^)]*)\)/.exec(readFileSync(join(src, 'conf_flags'), 'utf8'));
  if (!m) return `the nginx front's C check not built: ${src}/conf_flags has no NGX_CONF_FLAGS=( ... ). The front keeps its Lua check.`;
  const tree = mkdtempSync(join(tmpdir(), 'sextant-ngx-'));
  try {
    cpSync(src, tree, { recursive: true });
    const flags = m[1].trim().split(/\s+/);
    const steps = [
      ['./configure', [...flags, '--with-cc-opt=-O2', `--add-dynamic-module=${join(root, 'native', 'nginx-sextant')}`]],
      ['make', ['-f', 'objs/Makefile', 'modules']],
    ];
    for (const [cmd, a] of steps) {
      const s = spawnSync(cmd, a, { cwd: tree, encoding: 'utf8' });
      if (s.status !== 0) return `the nginx front's C check not built: ${cmd} exited ${s.status ?? s.signal ?? s.error?.message}: ${(s.stderr || s.stdout || '').slice(-1500)} The front keeps its Lua check.`;
    }
    const out = join(root, 'native', 'build', 'nginx');
    mkdirSync(out, { recursive: true });
    // A new file renamed over the old one: an nginx running the old module keeps its mapping intact.
    copyFileSync(join(tree, 'objs', `${NAME}.so`), join(out, `${NAME}.so.new`));
    renameSync(join(out, `${NAME}.so.new`), join(out, `${NAME}.so`));
    return undefined;
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}
