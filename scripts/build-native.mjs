#!/usr/bin/env node
/**
 * Builds the native modules (`native/udpbatch.c`, see common/udp-batch.ts; `native/tcprelay.c`,
 * see l4lb/userspace/native-relay.ts; `native/nfnetlink.c`, see l4lb/nft/netlink.ts; `native/malloctrim.c`,
 * see agent/malloc.ts) with node-gyp against the headers of the Node running this
 * script. Sextant works without them: the DNS servers then use Node's dgram sockets and the
 * userspace L4LB relays with net.Socket, both slower; the agent does not trim malloc's free memory, cap its arenas or unmap its start-up file pages. So a failed build warns and exits 0, unless
 * SEXTANT_NATIVE=required (exit 1), or SEXTANT_NATIVE=0 skips it.
 * Usage: node scripts/build-native.mjs   (run by `npm run build` after tsc)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
if (r.status === 0) process.exit(0);

const why = headers ? `node-gyp exited ${r.status ?? r.signal}` : `no Node headers under ${prefix}/include/node and node-gyp could not fetch them`;
const msg = `build-native: native modules not built (${why}; they need make, a C compiler and python3). DNS servers fall back to Node's dgram sockets, the userspace L4LB to net.Socket.`;
if (mode === 'required') {
  console.error(msg);
  process.exit(1);
}
console.warn(msg);
