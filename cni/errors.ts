/**
 * CNI errors: one named class carrying the spec's numeric code, printed as the CNI error JSON
 * `{cniVersion, code, msg, details}` on stdout with a non-zero exit.
 */
import { SextantError } from '../common/errors.js';

/** Well-known codes from the CNI spec (0-99); 100+ are ours. */
export const CODES = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
  limitedConnectivity: 51,
  /** Ours: the range has no free address. */
  noFreeAddress: 100,
  /** Ours: CHECK found the attachment differs from what ADD made. */
  checkFailed: 101,
  /** Ours: a kernel command (`ip`, `nft`) failed. */
  kernel: 102,
} as const;

export class CniError extends SextantError {
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const out: { cniVersion: string; code: number; msg: string; details?: string } = { cniVersion, code: this.code, msg: this.message };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Any thrown value as a CniError (unknown errors become I/O failures, code 5). */
export function asCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  const err = e as Error;
  return new CniError(CODES.io, err?.message ?? String(e), err?.stack);
}
