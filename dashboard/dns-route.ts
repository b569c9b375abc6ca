/**
 * `GET /v1/dns/query?agent=ID|IP&name=NAME[&type=A]` on the master: asks that agent's DNS
 * dispatcher (port 53 of its address) the question a task on it would ask, and answers the reply
 * with the server that gave it (dns/query.ts, as `sextant dns query --agent`). 422 names a bad
 * parameter, 404 an unknown agent, 504 a dispatcher that did not answer.
 */
import { NotFoundError, ValidationError, type Router } from '../common/index.js';
import { DnsQueryError, queryDns } from '../dns/index.js';

const LABEL = /^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$/;
/** A DNS name: labels of 1-63 characters, at most 253 in all, one trailing dot allowed. */
export function isDnsName(n: string): boolean {
  const s = n.endsWith('.') ? n.slice(0, -1) : n;
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => LABEL.test(l));
}
const TYPES = ['A', 'AAAA', 'SRV', 'CNAME', 'TXT', 'NS', 'SOA', 'PTR', 'MX'];

export interface DnsRouteContext {
  state(): Record<string, unknown>;
  dispatcherPort: number;
  timeoutMs?: number;
}

interface Slave {
  id: string;
  hostname?: string;
  pid?: string;
}

/** The address an agent registered with (its `slave(1)@IP:PORT` pid). */
export function agentAddress(state: Record<string, unknown>, key: string): { id: string; ip: string; port: number } | undefined {
  for (const s of (state.slaves as Slave[] | undefined) ?? []) {
    const m = /@(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s.pid ?? '');
    if (!m) continue;
    const ip = m[1]!.replace(/^\[|\]$/g, '');
    if (s.id === key || ip === key) return { id: s.id, ip, port: Number(m[2]) };
  }
  return undefined;
}

export function mountDnsRoute(router: Router, ctx: DnsRouteContext): void {
  router.get(
    '/v1/dns/query',
    async (req) => {
      const agent = req.query.get('agent') ?? '';
      const name = req.query.get('name') ?? '';
      const type = (req.query.get('type') ?? 'A').toUpperCase();
      const errors = [
        ...(agent ? [] : [{ path: 'agent', errors: ['is required (an agent id or IP)'] }]),
        ...(isDnsName(name) ? [] : [{ path: 'name', errors: [name ? `'${name}' is not a DNS name` : 'is required'] }]),
        ...(TYPES.includes(type) ? [] : [{ path: 'type', errors: [`must be one of ${TYPES.join(', ')}`] }]),
      ];
      if (errors.length) throw new ValidationError(errors);
      const a = agentAddress(ctx.state(), agent);
      if (!a) throw new NotFoundError(`no registered agent '${agent}'`);
      try {
        const reply = await queryDns({ server: { host: a.ip, port: ctx.dispatcherPort }, name, type, timeoutMs: ctx.timeoutMs ?? 2000 });
        return { json: { agent_id: a.id, question: { name, type }, ...reply } };
      } catch (e) {
        if (e instanceof DnsQueryError) return { status: 504, json: { message: `the dispatcher of agent ${a.id} (${a.ip}:${ctx.dispatcherPort}) did not answer: ${e.message}` } };
        throw e;
      }
    },
    { summary: "resolve a name as a task on that agent would (its DNS dispatcher)", query: { agent: 'agent id or IP', name: 'DNS name', type: 'record type (default A)' } },
  );
}
