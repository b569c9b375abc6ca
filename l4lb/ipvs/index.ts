/**
 * The IPVS driver of l4lb (loaded by `l4lb/probe.ts` through `createIpvsDriver`) and the
 * User-Mode-Linux harness its kernel tests and benchmark run in.
 */
import { IpvsDriver, type IpvsDriverOptions } from './driver.js';

export { IpvsDriver, type IpvsDriverOptions } from './driver.js';
export { IpvsCodecError, IpvsCommandError, UmlError } from './errors.js';
export { runInUml, umlMissing, type UmlOptions, type UmlResult } from './uml.js';

/** The factory `probeDriver` calls; options are passed as given to `--l4lb-driver ipvs`. */
export function createIpvsDriver(opts: Record<string, unknown> = {}): IpvsDriver {
  return new IpvsDriver(opts as IpvsDriverOptions);
}
