/**
 * V8's idle memory given back after a burst (issue #26). Taking a large update, each /metrics scrape
 * (about 27 MB of short-lived objects at 10,000 VIPs) and the periodic VIP metrics read leave V8 with
 * pages its spaces no longer use: 5-13 MiB at 10,000 VIPs that a plain full collection neither
 * shrinks nor unmaps. Once the agent is quiet and has something to give back (agent/release-policy.ts),
 * it calls V8's `LowMemoryNotification()` through native/memrelease.cc (what browsers do for a
 * background tab: compacting full collections, the young generation shrunk, V8's pooled pages
 * unmapped), then glibc's `malloc_trim(0)` (agent/malloc.ts) for what those collections freed in
 * malloc. The release runs on the main thread and blocks it for its duration (DNS queries answered by
 * the dispatcher's first process wait); it is timed in `sextant_agent_memory_release_seconds`.
 *
 * Env `SEXTANT_AGENT_MEMORY_RELEASE`: unset, `1`, `on` or `low` (LowMemoryNotification), `critical`
 * (MemoryPressureNotification(kCritical), to measure), `0` or `off` (none). `..._MIB` (default 8):
 * how much heapTotal or RSS must have grown; `..._INTERVAL_S` (default 30): at most one release per.
 * Without the native module nothing is done (logged once).
 */
import { performance } from 'node:perf_hooks';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { prom, type Registry } from '../common/metrics.js';
import { loadNative } from '../common/native.js';
import { mallocTrimAsync, mallocTrimEnabled } from './malloc.js';
import { RELEASE_DEFAULTS, ReleasePolicy, type MemorySample, type ReleaseSettings } from './release-policy.js';

export type ReleaseMode = 'off' | 'low' | 'critical';

export interface ReleaseConfig extends ReleaseSettings {
  mode: ReleaseMode;
}

/** How often the policy is asked (a `process.memoryUsage()` each time). */
export const RELEASE_CHECK_MS = 1000;

interface Addon {
  release(mode: 'low' | 'critical'): void;
}

let addon: Addon | null | undefined;

/** The native module, loaded once (null when it is not built). */
export function memReleaseNative(): Addon | null {
  if (addon === undefined) addon = loadNative<Addon>('memrelease') ?? null;
  return addon;
}

function intEnv(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `'${raw}': an integer from ${min} to ${max}`);
  return n;
}

/** The release's settings from the environment; a bad value throws a ConfigError naming it. */
export function releaseConfig(env: NodeJS.ProcessEnv = process.env): ReleaseConfig {
  const raw = env.SEXTANT_AGENT_MEMORY_RELEASE?.trim();
  let mode: ReleaseMode;
  if (raw === undefined || raw === '1' || raw === 'on' || raw === 'low') mode = 'low';
  else if (raw === '0' || raw === 'off') mode = 'off';
  else if (raw === 'critical') mode = 'critical';
  else throw new ConfigError('SEXTANT_AGENT_MEMORY_RELEASE', `'${env.SEXTANT_AGENT_MEMORY_RELEASE}': 1/on/low (the default), critical, or 0/off`);
  return {
    mode,
    quietMs: RELEASE_DEFAULTS.quietMs,
    growthBytes: intEnv(env, 'SEXTANT_AGENT_MEMORY_RELEASE_MIB', RELEASE_DEFAULTS.growthBytes >> 20, 1, 4096) << 20,
    minIntervalMs: intEnv(env, 'SEXTANT_AGENT_MEMORY_RELEASE_INTERVAL_S', RELEASE_DEFAULTS.minIntervalMs / 1000, 1, 86_400) * 1000,
  };
}

export interface MemoryRelease {
  /** An update starts being applied (no release until it is done and the agent was quiet); call the returned function when done. */
  applyingUpdate(): () => void;
  stop(): void;
}

const sample = (): MemorySample => {
  const m = process.memoryUsage();
  return { heapTotal: m.heapTotal, rss: m.rss };
};

const NONE: MemoryRelease = { applyingUpdate: () => () => {}, stop: () => {} };

/** Checks every `checkMs` on a timer that keeps nothing alive; releases when the policy says so. */
export function startMemoryRelease(o: { config: ReleaseConfig; registry: Registry; log: Logger; checkMs?: number }): MemoryRelease {
  const { config, log } = o;
  if (config.mode === 'off') return NONE;
  const native = memReleaseNative();
  if (!native) {
    log.info('memory_release_unavailable', { reason: 'the native module memrelease is not built (npm run build): V8 keeps its idle pages' });
    return NONE;
  }
  const mode = config.mode;
  const releases = new prom.Counter({ name: 'sextant_agent_memory_releases_total', help: "V8 memory releases (LowMemoryNotification, then malloc_trim) after the agent went quiet", registers: [o.registry] });
  const duration = new prom.Histogram({
    name: 'sextant_agent_memory_release_seconds',
    help: "Time the main thread spent in each V8 memory release (it answers nothing meanwhile)",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [o.registry],
  });
  const policy = new ReleasePolicy(config, () => performance.now(), sample());
  let running = false;
  const timer = setInterval(() => {
    if (running || policy.check(sample()) !== 'release') return;
    running = true;
    const before = sample();
    const t0 = performance.now();
    try {
      native.release(mode);
    } catch (err) {
      log.warn('memory_release_failed', { err });
    }
    const seconds = (performance.now() - t0) / 1000;
    releases.inc();
    duration.observe(seconds);
    const done = () => {
      const after = sample();
      policy.released(after, t0);
      running = false;
      log.debug('memory_released', { ms: Math.round(seconds * 1000), heap_total_before: before.heapTotal, heap_total_after: after.heapTotal, rss_before: before.rss, rss_after: after.rss });
    };
    const trim = mallocTrimEnabled() ? mallocTrimAsync() : undefined;
    if (trim) void trim.catch(() => false).finally(done);
    else done();
  }, o.checkMs ?? RELEASE_CHECK_MS);
  timer.unref();
  return { applyingUpdate: () => policy.begin(), stop: () => clearInterval(timer) };
}
