/**
 * The free memory glibc's malloc holds, given back to the kernel on a timer (issue #26). Taking a
 * large update (10,000 VIPs: a 7.5 MB message decoded, 70,000 kernel elements encoded, dumps read)
 * and scraping its metrics leave many MB free inside malloc's arenas that `free()` does not return
 * (only the top of the main heap past a threshold goes back): the agent's RSS kept them. Every
 * `TRIM_INTERVAL_MS` the agent calls `malloc_trim(0)` (native/malloctrim.c), which returns the free
 * pages of every arena: about 10 MB at 10,000 VIPs, in 1-10 ms (bench/l4lb/agent-heap.ts `--trim`;
 * docs/benchmarks/l4lb.md "The agent process"), on a thread of libuv's pool so the event loop (DNS
 * queries in the same process) does not wait for it. Without the native module or without glibc,
 * nothing is done. `SEXTANT_AGENT_MALLOC_TRIM=0` turns it off (to measure without it).
 */
import { loadNative } from '../common/native.js';

export const TRIM_INTERVAL_MS = 10_000;

interface Addon {
  trim(): boolean;
  trimAsync(): Promise<boolean>;
}

let addon: Addon | null | undefined;

/** The native module, loaded once (null when it is not built). */
function native(): Addon | null {
  if (addon === undefined) addon = loadNative<Addon>('malloctrim') ?? null;
  return addon;
}

/** malloc_trim(0) now: whether memory went back; undefined when the native module is not built. */
export function mallocTrim(): boolean | undefined {
  return native()?.trim();
}

/** malloc_trim(0) on a thread of libuv's pool; undefined when the native module is not built. */
export function mallocTrimAsync(): Promise<boolean> | undefined {
  return native()?.trimAsync();
}

/**
 * Trim every `ms` (off the event loop, one at a time) on a timer that keeps nothing alive; returns
 * its stop. Off with SEXTANT_AGENT_MALLOC_TRIM=0 or without the native module.
 */
export function startMallocTrim(ms = TRIM_INTERVAL_MS): () => void {
  if (process.env.SEXTANT_AGENT_MALLOC_TRIM === '0' || mallocTrim() === undefined) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void mallocTrimAsync()?.finally(() => (running = false));
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
