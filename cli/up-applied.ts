/**
 * `sextant up` says "ready" only once every agent it started has applied the control plane's
 * current version (the master's `GET /v1/control/agents`); otherwise it names each agent that did
 * not and why (not connected, a version it refused and the error, or how far behind it is).
 */
import { upRequest as requestJson } from './up-tls.js';

/** An agent this run started: its number in the summary (1-based) and its id. */
export interface StartedAgent {
  n: number;
  id: string;
}

interface AgentRow {
  agent_id: string;
  connected: boolean;
  applied: number;
  failed: number | null;
  error: string | null;
}

export interface ControlAgents {
  version: number;
  agents: AgentRow[];
}

export type Applied =
  | { kind: 'applied'; version: number }
  /** The master runs no control plane (SEXTANT_MASTER_SERVICES without `control`): nothing to apply. */
  | { kind: 'no-control' }
  | { kind: 'behind'; version: number; problems: string[]; refused: boolean };

/** Which of `agents` have not applied `s.version`, one line each. */
export function judgeApplied(s: ControlAgents, agents: StartedAgent[]): Applied {
  const problems: string[] = [];
  let refused = false;
  for (const a of agents) {
    const who = `agent ${a.n} (${a.id})`;
    const r = s.agents.find((x) => x.agent_id === a.id);
    if (!r) problems.push(`${who} has no control-plane stream`);
    else if (r.failed !== null && r.failed >= s.version) {
      refused = true;
      problems.push(`${who} refused version ${r.failed}: ${r.error ?? 'no error given'}`);
    } else if (r.applied !== s.version) problems.push(`${who} applied version ${r.applied} of ${s.version}${r.connected ? '' : ' and is not connected'}`);
  }
  return problems.length ? { kind: 'behind', version: s.version, problems, refused } : { kind: 'applied', version: s.version };
}

/**
 * Poll the master until every agent applied the current version, one refused it (an agent that
 * NACKed the current version will not apply it by waiting), or `timeoutMs` passed.
 */
export async function waitApplied(masterUrl: string, agents: StartedAgent[], timeoutMs: number, everyMs = 200): Promise<Applied> {
  const end = Date.now() + timeoutMs;
  let last: Applied | undefined;
  for (;;) {
    const r = await requestJson(`${masterUrl}/v1/control/agents`, { timeoutMs: 5000 }).catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 404) return { kind: 'no-control' };
    if (r.status === 200) {
      last = judgeApplied(r.body as ControlAgents, agents);
      if (last.kind === 'applied' || (last.kind === 'behind' && last.refused)) return last;
    } else last = { kind: 'behind', version: -1, problems: [`${masterUrl}/v1/control/agents answered ${r.status || String(r.body)}`], refused: false };
    if (Date.now() > end) return last;
    await new Promise((res) => setTimeout(res, everyMs));
  }
}
