/** The Mesos-compatible HTTP API on the master port: state, version, health, redirect, agents. */
import { ValidationError, type Handler, type Router } from '../common/index.js';
import { heartbeatSchema, registerSchema, statusSchema } from './agent-schema.js';
import type { Limits } from './limits.js';
import { API } from '../contracts/index.js';
import type { AgentService } from './agents.js';
import { parseHeartbeat, parseRegister, parseStatus } from './agent-parse.js';
import { MESOS_VERSION } from './state-json.js';

export interface MesosRouteContext {
  agents: AgentService;
  stateBody(): Buffer;
  state(): Record<string, unknown>;
  leader(): string;
  limits: Limits;
  /** Why an agent may not register with this IP (a VIP range, an overlay subnet, ...), or undefined. */
  nodeRefusal(ip: string): string | undefined;
}

export function mesosRoutes(router: Router, ctx: MesosRouteContext): void {
  // Large (MBs for thousands of tasks): the cached bytes go out as they are.
  const state: Handler = (_req, res) => {
    const body = ctx.stateBody();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
    return { hijacked: true };
  };
  for (const p of ['/master/state', '/state', '/master/state.json', '/state.json']) router.get(p, state);
  router.get('/master/slaves', () => ({ json: { slaves: ctx.state().slaves } }));
  router.get('/master/frameworks', () => ({ json: { frameworks: ctx.state().frameworks } }));
  router.get('/version', () => ({ json: { version: MESOS_VERSION, build_user: 'sextant', build_date: '', build_time: 0, git_tag: MESOS_VERSION } }));
  router.get('/health', () => ({ text: '' }));
  router.get('/master/health', () => ({ text: '' }));
  // Mesos answers 307 with a scheme-relative Location pointing at the leading master.
  router.get('/master/redirect', () => ({ status: 307, text: '', headers: { location: `//${ctx.leader()}` } }));
  router.get('/redirect', () => ({ status: 307, text: '', headers: { location: `//${ctx.leader()}` } }));
  router.post(
    API.register,
    async (r) => {
      const reg = parseRegister(r.body);
      const why = ctx.nodeRefusal(reg.ip);
      if (why) throw new ValidationError([{ path: '/ip', errors: [`${why} (node address)`] }]);
      return { json: await ctx.agents.register(reg) };
    },
    { summary: 'agent registration (protocol.ts)', body: registerSchema(ctx.limits) },
  );
  router.post(
    API.heartbeat,
    (r) => {
      ctx.agents.heartbeat(parseHeartbeat(r.body).agent_id);
      return { json: {} };
    },
    { summary: 'agent heartbeat', body: heartbeatSchema },
  );
  router.post(
    API.status,
    async (r) => {
      await ctx.agents.status(parseStatus(r.body));
      return { json: {} };
    },
    { summary: 'task status update', body: statusSchema },
  );
  router.serveOpenapi('Sextant master (Mesos API, agent protocol, admin)');
}
