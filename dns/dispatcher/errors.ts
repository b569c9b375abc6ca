/** Named errors of the dispatcher; match on `.name`. */
import { SextantError } from '../../common/errors.js';

/** Every chosen upstream failed (timeout, network error or an error rcode). */
export class UpstreamsFailedError extends SextantError {}

/** One upstream query did not produce a valid answer; `reason` is timeout|network|rcode. */
export class UpstreamError extends SextantError {
  constructor(
    readonly upstream: string,
    readonly reason: 'timeout' | 'network' | 'rcode' | 'aborted',
    message: string,
  ) {
    super(`${upstream}: ${message}`);
  }
}

/** A zone file line could not be parsed; `line` is 1-based. */
export class ZoneFileError extends SextantError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}
