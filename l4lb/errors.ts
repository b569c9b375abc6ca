/** Named errors of the l4lb component; match on `.name`. */
import { SextantError } from '../common/errors.js';

/** A VIP label that cannot be used (defined with the parser, in contracts/vip-label.ts). */
export { VipLabelError } from '../contracts/vip-label.js';

/** The VIP IP pool is exhausted. */
export class VipPoolExhaustedError extends SextantError {}

/** A driver command failed (nft exited non-zero, a socket could not bind, ...). */
export class DriverError extends SextantError {
  constructor(
    readonly driver: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${driver}: ${message}`, options);
  }
}

/** No driver can work here (every probe failed); `reasons` says why for each. */
export class NoDriverError extends SextantError {
  constructor(readonly reasons: Record<string, string>) {
    super(`no l4lb driver is available: ${Object.entries(reasons).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  }
}
