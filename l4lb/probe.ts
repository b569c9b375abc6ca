/**
 * Picks the data-plane driver at start: `auto` tries ipvs, then nftables, then userspace, and logs
 * why each one that was skipped could not work. The ipvs driver lives in `l4lb/ipvs/` and is
 * loaded through `loadIpvsDriver` (its module exports `createIpvsDriver(opts)`).
 */
import { createLogger, type Logger } from '../common/log.js';
import type { DriverName, L4lbDriver } from './driver.js';
import { NoDriverError } from './errors.js';
import { ConfigError } from '../common/errors.js';
import { NftablesDriver, type NftablesDriverOptions } from './nft/driver.js';
import { UserspaceDriver, type UserspaceDriverOptions } from './userspace/driver.js';

export type DriverChoice = 'auto' | DriverName;
export const DRIVER_CHOICES: DriverChoice[] = ['auto', 'ipvs', 'nftables', 'userspace'];

export interface ProbeOptions {
  nftables?: NftablesDriverOptions;
  userspace?: UserspaceDriverOptions;
  /** Passed to the ipvs driver factory as is. */
  ipvs?: Record<string, unknown>;
  log?: Logger;
}

/** The hook for the ipvs driver: undefined (with a reason) when it is not built. */
export async function loadIpvsDriver(opts: Record<string, unknown> = {}): Promise<L4lbDriver | string> {
  const path = './ipvs/index.js';
  try {
    const mod = (await import(path)) as { createIpvsDriver?: (o: Record<string, unknown>) => L4lbDriver };
    if (typeof mod.createIpvsDriver !== 'function') return 'l4lb/ipvs does not export createIpvsDriver';
    return mod.createIpvsDriver(opts);
  } catch (e) {
    return `ipvs driver not available in this build: ${(e as Error).message}`;
  }
}

async function make(name: DriverName, opts: ProbeOptions): Promise<L4lbDriver | string> {
  if (name === 'ipvs') return loadIpvsDriver(opts.ipvs);
  if (name === 'nftables') return new NftablesDriver(opts.nftables);
  return new UserspaceDriver(opts.userspace);
}

export async function probeDriver(choice: DriverChoice, opts: ProbeOptions = {}): Promise<L4lbDriver> {
  const log = opts.log ?? createLogger('l4lb');
  const order: DriverName[] = choice === 'auto' ? ['ipvs', 'nftables', 'userspace'] : [choice];
  const reasons: Record<string, string> = {};
  for (const name of order) {
    const d = await make(name, opts);
    const probe = typeof d === 'string' ? { ok: false as const, reason: d } : await d.available();
    if (probe.ok && typeof d !== 'string') {
      log.info('l4lb_driver_chosen', { driver: name, requested: choice, skipped: reasons });
      if (name === 'userspace' && choice === 'auto') log.warn('l4lb_fallback_userspace', { message: 'neither ipvs nor nftables works here; using the slow userspace proxy', reasons });
      return d;
    }
    reasons[name] = probe.ok ? 'not available' : probe.reason;
    log.info('l4lb_driver_unavailable', { driver: name, reason: reasons[name] });
  }
  throw new NoDriverError(reasons);
}

export function parseDriverChoice(v: string | undefined): DriverChoice {
  const c = (v ?? 'auto') as DriverChoice;
  if (!DRIVER_CHOICES.includes(c)) throw new ConfigError('l4lb-driver', `must be one of ${DRIVER_CHOICES.join('|')}, not ${JSON.stringify(v)}`);
  return c;
}
