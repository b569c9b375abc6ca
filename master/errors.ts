/** Named errors of the master (match on `.name`). */
import { SextantError, UnavailableError } from '../common/index.js';

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

/** A value over the store's size limit (ZooKeeper's znode limit); nothing was written. */
export class StoreValueTooLargeError extends SextantError {
  constructor(
    readonly key: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`store value for ${key} is ${bytes} bytes, over the limit of ${limit} bytes (SEXTANT_ZK_MAX_VALUE_BYTES; ZooKeeper's jute.maxbuffer)`);
  }
}

/** This master may not write: it is not the elected leader, or its ZooKeeper session is not live (HTTP 503). */
export class NotLeaderError extends UnavailableError {}

/** The leader has not heard from ZooKeeper recently enough to be sure it still leads (a busy event loop, a partition): renewable by asking ZooKeeper. */
export class LeaseUnverifiedError extends NotLeaderError {}

/** The store cannot be reached (no ZooKeeper quorum, session lost): HTTP 503, nothing acknowledged. */
export class StoreUnavailableError extends UnavailableError {}
