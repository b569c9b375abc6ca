/**
 * Plugin hosts for tests, built the way the composition root (cli/plugins.ts) builds them: the
 * handle's registry as metrics, a logger named for the service, and the process's registration
 * object (pass one to share it between plugins of one process, as the root does).
 */
import { createLogger } from '../../common/log.js';
import { createAgentControl, createMasterControl, type AgentControl, type AgentHandle, type AgentHost, type MasterControl, type MasterHandle, type MasterHost } from '../../contracts/index.js';

export function masterHost(handle: MasterHandle, name: string, control: MasterControl = createMasterControl()): MasterHost {
  return { handle, control, metrics: handle.registry, log: createLogger(name) };
}

export function agentHost(handle: AgentHandle, name: string, control: AgentControl = createAgentControl()): AgentHost {
  return { handle, control, metrics: handle.registry, log: createLogger(name) };
}
