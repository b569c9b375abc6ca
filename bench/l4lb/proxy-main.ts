/**
 * The userspace proxy as its own process, for the traffic bench: `node --import tsx
 * bench/l4lb/proxy-main.ts '<json>'` with `{ listen: ip, services: Service[] }`;
 * prints `ready` once every service listens, exits on SIGTERM/SIGINT.
 */
import { UserspaceDriver } from '../../l4lb/userspace/driver.js';
import type { Service } from '../../l4lb/driver.js';
import { createLogger } from '../../common/log.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as { listen: string; services: Service[] };
const d = new UserspaceDriver({ listenAddress: (s) => ({ host: cfg.listen, port: s.port }), log: createLogger('l4lb-bench-proxy') });
const stop = () => void d.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
await d.start();
await d.apply(cfg.services);
console.log('ready');
