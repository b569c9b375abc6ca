/**
 * Runs one userspace proxy (a ServiceProxy) for fd-limit.test.ts, started under a low
 * RLIMIT_NOFILE: env HOST, PORT (listen), BACKEND_PORT (on HOST), EXTRA_FD (descriptors to take first). Prints `ready`, then one
 * `socket-error <op> <errno>` line per socket it could not get.
 */
import { openSync } from 'node:fs';
import { createLogger } from '../../../common/log.js';
import type { Service } from '../../driver.js';
import { ServiceProxy } from '../service.js';

const host = process.env.HOST!;
const port = Number(process.env.PORT);
const service: Service = { key: `tcp/${host}:${port}`, vip: host, port, protocol: 'tcp', backends: [{ ip: host, port: Number(process.env.BACKEND_PORT), weight: 1 }] };
const proxy = new ServiceProxy(service, { host, port }, {
  balance: 'leastconn',
  log: createLogger('fd-limit-child'),
  connectTimeoutMs: 2000,
  udpIdleMs: 1000,
  onUnreachable: (b) => console.log(`unreachable ${b}`),
  onSocketError: (op, errno) => console.log(`socket-error ${op} ${errno}`),
});
// EXTRA_FD=N takes N more descriptors: one more makes the proxy run out at the other step (accept vs backend socket).
for (let i = 0; i < Number(process.env.EXTRA_FD ?? 0); i++) openSync('/dev/null', 'r');
await proxy.start();
console.log('ready');
process.on('SIGTERM', () => void proxy.stop().then(() => process.exit(0)));
