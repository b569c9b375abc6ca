import { SextantError } from '../../common/errors.js';

/**
 * A packet that is not a well-formed DNS message. `offset` is where parsing stopped; `id` is the
 * query ID when the header was readable (so a server can answer FORMERR), else -1.
 */
export class MalformedPacketError extends SextantError {
  constructor(
    readonly reason: string,
    readonly offset: number,
    readonly id = -1,
  ) {
    super(`malformed DNS packet at byte ${offset}: ${reason}`);
  }
}

/** A record or name given to the builder cannot be encoded (bad IP, label over 63 bytes...). */
export class EncodeError extends SextantError {}
