/** Named errors of the control plane (match on `.name`). */
import { SextantError } from '../common/errors.js';

/** An agent sent something the protocol does not allow; `reason` says what. */
export class ProtocolError extends SextantError {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The agent id is not one this master knows. */
export class UnknownAgentError extends SextantError {
  constructor(readonly agentId: string) {
    super(`unknown agent id '${agentId}': not registered with this master`);
  }
}

/** A consumer failed to apply a version on the agent (the NACK reason). */
export class ApplyError extends SextantError {
  constructor(readonly consumer: string, readonly version: number, cause: unknown) {
    super(`${consumer}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
