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
  arenaMax(n: number): boolean;
}

let addon: Addon | null | undefined;

/** The native module, loaded once (null when it is not built). */
function native(): Addon | null {
  if (addon === undefined) addon = loadNative<Addon>('malloctrim') ?? null;
  return addon;
}

/**
 * At most `SEXTANT_AGENT_MALLOC_ARENAS` (default 1) malloc arenas from now on: glibc gives a thread
 * that finds the arenas busy an arena of its own (up to 8 per core), each a 64 MiB reservation whose
 * freed pieces stay resident between trims; in the agent V8's compile and GC threads and libuv's
 * pool made 3-4 of them, 13-19 MiB resident at 10,000 VIPs (docs/benchmarks/l4lb.md, session 21).
 * With one, every thread allocates from the main heap (glibc's per-thread cache keeps most
 * allocations off its lock). A thread that already has an arena keeps it, so the agent calls this
 * first thing. `0` leaves glibc's default (or `MALLOC_ARENA_MAX` from the environment, which glibc
 * reads at start and which takes precedence: then nothing is done). Returns the cap set, or
 * undefined when none was (no native module, no glibc, `0`, or `MALLOC_ARENA_MAX` set).
 */
export function limitMallocArenas(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SEXTANT_AGENT_MALLOC_ARENAS ?? '1';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new Error(`SEXTANT_AGENT_MALLOC_ARENAS='${raw}': an integer from 0 (glibc's default) to 64`);
  if (n === 0 || env.MALLOC_ARENA_MAX !== undefined) return undefined;
  return native()?.arenaMax(n) ? n : undefined;
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
