/**
 * The `sextant-control` unit. Agent: the watch stream to a master is connected and the version it
 * holds is applied by every consumer (no NACK). Master: the gRPC server listens; the output says
 * how many agents are connected and how many applied the current version (an agent behind is its
 * own node's unhealthy unit, not the master's).
 */
import { UNITS, type HealthCheck } from '../contracts/index.js';
import type { ControlClient } from './client.js';
import type { ControlServer } from './server.js';

const NAME = 'Control plane';

export function controlAgentHealthCheck(client: ControlClient): HealthCheck {
  return {
    id: UNITS.control,
    name: NAME,
    help: "The agent's control-plane watch stream (gRPC, like Envoy xDS): connected to a master and the current version applied. Unhealthy: see the agent log (stream_broken, apply_failed) and GET /v1/control/state on the agent.",
    async check() {
      const s = client.state();
      if (!s.connected) return { healthy: false, output: `watch stream to ${s.master ?? 'a master'} is not connected (broken ${s.broken} time(s); holding version ${s.version}, applied ${s.applied}: fail static)` };
      if (s.failed !== null) return { healthy: false, output: `version ${s.failed} from ${s.master} not applied: ${s.error}` };
      if (s.applied !== s.version) return { healthy: false, output: `connected to ${s.master}; version ${s.version} received, ${s.applied} applied` };
      return { healthy: true, output: `connected to ${s.master}; version ${s.version} applied` };
    },
  };
}

export function controlMasterHealthCheck(server: ControlServer): HealthCheck {
  return {
    id: UNITS.control,
    name: NAME,
    help: "The master's control-plane server (gRPC): listening, pushing versions to the agents. Unhealthy: see the master log; GET /v1/control/agents shows each agent's stream.",
    async check() {
      if (!server.port) return { healthy: false, output: 'gRPC server is not listening' };
      const st = server.status();
      const connected = st.agents.filter((a) => a.connected).length;
      const applied = st.agents.filter((a) => a.applied === st.version).length;
      return { healthy: true, output: `listening on :${server.port} (${server.authenticated ? 'mutual TLS, per-agent identity' : 'PLAINTEXT: insecure development mode'}); version ${st.version}; ${connected} agent(s) connected, ${applied} applied it` };
    },
  };
}
