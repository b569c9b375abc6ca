/** Named errors of the control plane (match on `.name`). */
import { SextantError } from '../common/errors.js';

/** A consumer failed to apply a version on the agent (the NACK reason). */
export class ApplyError extends SextantError {
  constructor(readonly consumer: string, readonly version: number, cause: unknown) {
    super(`${consumer}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
