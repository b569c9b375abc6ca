/**
 * The identity service in the one plugin shape (contracts/plugin.ts): `acsMasterPlugin(options)`
 * gives `(host) => Component`; its routes go on the master's Mesos port at start. The composition
 * root may pass the instance it made (`acs`) so that the entry point checks tokens with the same
 * store in memory.
 */
import type { MasterPlugin } from '../../contracts/index.js';
import { mountAcsApi } from './api.js';
import { Acs, type AcsOptions } from './service.js';

export type AcsPluginOptions = Omit<AcsOptions, 'store' | 'registry' | 'log'>;

/** The service for a master: built without I/O. */
export function createAcs(host: { handle: { store: AcsOptions['store'] }; metrics: AcsOptions['registry']; log?: AcsOptions['log'] }, opts: AcsPluginOptions = {}): Acs {
  return new Acs({ ...opts, store: host.handle.store, registry: host.metrics, ...(host.log ? { log: host.log } : {}) });
}

export function acsMasterPlugin(opts: AcsPluginOptions & { acs?: Acs } = {}): MasterPlugin {
  return (host) => {
    const acs = opts.acs ?? createAcs(host, opts);
    return {
      name: acs.name,
      start: async () => {
        await acs.start();
        host.handle.routes((r) => mountAcsApi(r, acs));
      },
      stop: () => acs.stop(),
    };
  };
}
