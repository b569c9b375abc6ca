/**
 * The `sextant-dns-dispatcher` unit: a real DNS query for `ready.spartan` A to each UDP address the
 * dispatcher listens on. Healthy when every one answers NOERROR with an address; the output names
 * each address and what it answered (or that it did not within the timeout).
 */
import { UNITS, type HealthCheck } from '../../contracts/index.js';
import { queryDns } from '../query.js';
import type { Dispatcher } from './dispatcher.js';

export const READY_NAME = 'ready.spartan';

export function dispatcherHealthCheck(state: () => { dispatcher?: Dispatcher; startError?: string }, timeoutMs = 1000): HealthCheck {
  return {
    id: UNITS.dispatcher,
    name: 'DNS dispatcher',
    help: `The node's DNS dispatcher (Spartan): answers ${READY_NAME} on each bind address. Unhealthy: see the agent log (dispatcher_not_started) and dispatcher.json in its work dir.`,
    async check() {
      const { dispatcher, startError } = state();
      if (!dispatcher) return { healthy: false, output: startError ? `not running: ${startError}` : 'not started' };
      const binds = dispatcher.addresses().filter((b) => b.transport === 'udp');
      if (!binds.length) return { healthy: false, output: 'listens on no UDP address' };
      const lines = await Promise.all(
        binds.map(async (b) => {
          const at = `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`;
          try {
            const r = await queryDns({ server: { host: b.host, port: b.port }, name: READY_NAME, type: 'A', timeoutMs });
            const ok = r.rcode === 0 && r.answers.length > 0;
            return { ok, line: `${at}: ${r.rcodeName}${r.answers.length ? ` ${r.answers.map((a) => a.data).join(',')}` : ' (no answer records)'} in ${r.ms} ms` };
          } catch (e) {
            return { ok: false, line: `${at}: ${(e as Error).message}` };
          }
        }),
      );
      return { healthy: lines.every((l) => l.ok), output: `${READY_NAME} A: ${lines.map((l) => l.line).join('; ')}` };
    },
  };
}
