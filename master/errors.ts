/** Named errors of the master (match on `.name`). */
import { SextantError } from '../common/index.js';

/** A file in the store cannot be read back; `file` names it. Never silently dropped. */
export class StoreCorruptError extends SextantError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`store file ${file} is corrupt: ${reason} (move it away or restore it from a backup)`);
  }
}

/** A protocol request from an agent was malformed; the answer is 400 and nothing changes. */
export class BadRequestError extends SextantError {}

export { ValidationError, ConflictError, NotFoundError } from '../common/index.js';
