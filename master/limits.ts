/**
 * Upper bounds on what the APIs accept, so one request cannot start a million tasks or fill the
 * store. Each is configurable through the environment (or MasterOptions.limits); a request over a
 * bound is a 422 naming the bound and the value.
 */
import { ConfigError } from '../common/index.js';
import { DEFAULT_LIMITS, type Limits } from '../contracts/index.js';

export { DEFAULT_LIMITS, type Limits };

/** The environment variable of each bound. */
export const LIMIT_ENV: Readonly<Record<keyof Limits, string>> = Object.freeze({
  instancesPerApp: 'SEXTANT_MAX_INSTANCES_PER_APP',
  apps: 'SEXTANT_MAX_APPS',
  tasksPerAgent: 'SEXTANT_MAX_TASKS_PER_AGENT',
  portsPerApp: 'SEXTANT_MAX_PORTS_PER_APP',
  labelsPerMap: 'SEXTANT_MAX_LABELS',
  labelKeyLength: 'SEXTANT_MAX_LABEL_KEY_LENGTH',
  labelValueLength: 'SEXTANT_MAX_LABEL_VALUE_LENGTH',
  idSegmentLength: 'SEXTANT_MAX_ID_SEGMENT_LENGTH',
  idLength: 'SEXTANT_MAX_ID_LENGTH',
  rulesPerNetwork: 'SEXTANT_MAX_RULES_PER_NETWORK',
  networks: 'SEXTANT_MAX_NETWORKS',
});

/** Defaults overridden by `SEXTANT_MAX_*`; a value that is not a positive integer is a ConfigError. */
export function limitsFromEnv(env: NodeJS.ProcessEnv = process.env, base: Partial<Limits> = {}): Limits {
  const out: Limits = { ...DEFAULT_LIMITS, ...base };
  for (const [key, name] of Object.entries(LIMIT_ENV) as [keyof Limits, string][]) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(name, `'${v}' is not a positive integer`);
    out[key] = n;
  }
  return out;
}
