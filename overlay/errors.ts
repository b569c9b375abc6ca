/** Named errors of the overlay component (match on `.name`). */
import { SextantError } from '../common/index.js';

/** No free VTEP address or no free slice of a network is left for an agent. */
export class OverlayExhaustedError extends SextantError {
  constructor(
    readonly agentId: string,
    readonly what: string,
  ) {
    super(`overlay exhausted for agent ${agentId}: no free ${what}`);
  }
}

/** A kernel command (ip, bridge, nft) failed; `command` names what was being done. */
export class KernelError extends SextantError {
  constructor(
    readonly command: string,
    message: string,
  ) {
    super(`${command}: ${message}`);
  }
}
