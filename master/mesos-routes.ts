/** The Mesos-compatible HTTP API on the master port: state, version, health, redirect, agents. */
import { ValidationError, type Handler, type Router } from '../common/index.js';
import { heartbeatSchema, registerSchema, statusSchema } from './agent-schema.js';
import type { Limits } from './limits.js';
import { API } from '../contracts/index.js';
import type { AgentService } from './agents.js';
import { agentIdentity, AgentRefusedError, sameAgent } from './agent-auth.js';
import { registrationPeer, type AgentBootstrap } from './agent-bootstrap.js';
import { parseHeartbeat, parseRegister, parseStatus } from './agent-parse.js';
import type { AgentRecord } from './model.js';
import { MESOS_VERSION } from './state-json.js';

export interface MesosRouteContext {
  agents: AgentService;
  /** The master's agent table (credentials are checked against it). */
  agentRecords: ReadonlyMap<string, AgentRecord>;
  stateBody(): Buffer;
  state(): Record<string, unknown>;
  /** Agents left out of the state's slaves: pending the callback, unreachable, removed. */
  otherSlaves(): Record<string, unknown>[];
  leader(): string;
  limits: Limits;
  /** Why an agent may not register with this IP (a VIP range, an overlay subnet, ...), or undefined. */
  nodeRefusal(ip: string): string | undefined;
  /** A refused agent-protocol call (counted, logged rate-limited). */
  refused(e: AgentRefusedError, path: string, remote: string | undefined): void;
  /** A status update dropped as stale. */
  dropped(reason: 'stale'): void;
  /** Mutual TLS: agents are known by their certificates and bootstrap through this (absent: --insecure-dev). */
  bootstrap?: AgentBootstrap;
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
  router.get('/master/slaves', () => ({ json: { slaves: [...(ctx.state().slaves as unknown[]), ...ctx.otherSlaves()] } }));
  router.get('/master/frameworks', () => ({ json: { frameworks: ctx.state().frameworks } }));
  router.get('/version', () => ({ json: { version: MESOS_VERSION, build_user: 'sextant', build_date: '', build_time: 0, git_tag: MESOS_VERSION } }));
  router.get('/health', () => ({ text: '' }));
  router.get('/master/health', () => ({ text: '' }));
  // Mesos answers 307 with a scheme-relative Location pointing at the leading master.
  router.get('/master/redirect', () => ({ status: 307, text: '', headers: { location: `//${ctx.leader()}` } }));
  router.get('/redirect', () => ({ status: 307, text: '', headers: { location: `//${ctx.leader()}` } }));

  // The agent protocol: a refusal is 401/403 {message, reason} and changes nothing.
  const guarded =
    (h: Handler): Handler =>
    async (req, res) => {
      try {
        return await h(req, res);
      } catch (e) {
        if (!(e instanceof AgentRefusedError)) throw e;
        ctx.refused(e, req.path, req.raw.socket.remoteAddress);
        return { status: e.status, json: { message: e.message, reason: e.reason } };
      }
    };
  router.post(
    API.register,
    guarded(async (r) => {
      const reg = parseRegister(r.body);
      const why = ctx.nodeRefusal(reg.ip);
      if (why) throw new ValidationError([{ path: '/ip', errors: [`${why} (node address)`] }]);
      const why6 = reg.ip6 ? ctx.nodeRefusal(reg.ip6) : undefined;
      if (why6) throw new ValidationError([{ path: '/ip6', errors: [`${why6} (node address)`] }]);
      const { csr: _csr, ...plain } = reg;
      if (ctx.bootstrap) {
        const certId = registrationPeer(r);
        if (reg.agent_id) {
          // A re-registration: only with that agent's certificate (a bootstrap token is not enough).
          if (certId === undefined) throw new AgentRefusedError(401, 'missing_credentials', `re-registering agent ${reg.agent_id} needs its certificate (mutual TLS); a bootstrap token registers only new agents`);
          if (certId !== reg.agent_id) throw new AgentRefusedError(403, 'agent_mismatch', `the registration names agent ${reg.agent_id} but the certificate is agent ${certId}'s`);
          if (!ctx.agentRecords.has(reg.agent_id)) throw new AgentRefusedError(403, 'unknown_agent', `agent ${reg.agent_id} is not known to this master: register as a new agent`);
          sameAgent(agentIdentity(r, ctx.agentRecords, true), reg.agent_id, 'the registration');
          return { json: await ctx.agents.register(plain) };
        }
        const csr = ctx.bootstrap.admit(r, reg);
        const bootstrap = ctx.bootstrap;
        return { json: await ctx.agents.register(plain, (id) => bootstrap.issue(id, reg, csr)) };
      }
      if (reg.agent_id) {
        const rec = ctx.agentRecords.get(reg.agent_id);
        if (!rec) throw new AgentRefusedError(403, 'unknown_agent', `agent ${reg.agent_id} is not known to this master: register as a new agent`);
        // A record from before secrets has none to check: this re-registration issues one.
        if (rec.secret_sha256) sameAgent(agentIdentity(r, ctx.agentRecords), reg.agent_id, 'the registration');
      }
      return { json: await ctx.agents.register(plain) };
    }),
    { summary: 'agent registration (protocol.ts); a re-registration carries the agent\'s credentials', body: registerSchema(ctx.limits) },
  );
  router.post(
    API.heartbeat,
    guarded((r) => {
      const body = parseHeartbeat(r.body);
      sameAgent(agentIdentity(r, ctx.agentRecords, ctx.bootstrap !== undefined), body.agent_id, 'the heartbeat');
      ctx.agents.heartbeat(body.agent_id);
      return { json: {} };
    }),
    { summary: 'agent heartbeat (agent credentials)', body: heartbeatSchema },
  );
  router.post(
    API.status,
    guarded(async (r) => {
      const u = parseStatus(r.body);
      const who = agentIdentity(r, ctx.agentRecords, ctx.bootstrap !== undefined);
      sameAgent(who, u.agent_id, 'the status update');
      const res = await ctx.agents.status(u, who.agentId);
      if (res !== 'stale') return { json: {} };
      ctx.dropped('stale');
      return { json: { dropped: 'stale', message: `task ${u.task_id}: seq ${u.seq} is not above the last applied` } };
    }),
    { summary: 'task status update (agent credentials; only for the agent\'s own tasks)', body: statusSchema },
  );
  router.delete(
    '/api/v1/agents/:id',
    async (r) => {
      const force = r.query.get('force') === 'true';
      return { json: await ctx.agents.remove(r.params.id!, force) };
    },
    { summary: 'remove an agent (`sextant node rm`): deactivated now, released after the grace period', query: { force: 'true: also an agent that is still heartbeating' } },
  );
  router.serveOpenapi('Sextant master (Mesos API, agent protocol, admin)');
}
