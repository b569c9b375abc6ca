/** Named errors of the agent. Match on `.name`. */
import { SextantError } from '../common/errors.js';

/** A task asked for a virtual network but this agent has no NetworkAttacher. */
export class NoNetworkAttacherError extends SextantError {
  constructor(readonly network: string) {
    super(`task asks for virtual network '${network}' but virtual networks are not set up on this agent (no network attacher configured)`);
  }
}

/** The agent's work dir holds something it cannot read back. */
export class WorkDirError extends SextantError {
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}`);
  }
}

/** The master could not be reached or answered something unexpected. */
export class MasterUnavailableError extends SextantError {}
