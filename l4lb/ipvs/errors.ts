/** Named errors of the ipvs driver and its UML harness; match on `.name`. */
import { SextantError } from '../../common/errors.js';

/** A genl payload that does not follow the ip_vs.h layout (truncated, wrong family, ...). */
export class IpvsCodecError extends SextantError {}

/** The kernel refused an IPVS command; `errno` is the symbolic code (EEXIST, ENOENT, ...). */
export class IpvsCommandError extends SextantError {
  constructor(
    readonly op: string,
    readonly errno: string,
    readonly target: string,
  ) {
    super(`ipvs ${op} ${target}: ${errno}`);
  }
}

/** The User-Mode-Linux harness could not boot or run its command; `missing` lists absent tools. */
export class UmlError extends SextantError {
  constructor(
    message: string,
    readonly missing: string[] = [],
  ) {
    super(message);
  }
}
