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
import { agentV8Flags, dropAddedFlags } from './v8flags.js';

export const TRIM_INTERVAL_MS = 10_000;

interface Addon {
  trim(): boolean;
  trimAsync(): Promise<boolean>;
  arenaMax(n: number): boolean;
  exec(path: string, argv: string[], env: string[]): never;
}

let addon: Addon | null | undefined;

/** The native module, loaded once (null when it is not built). */
function native(): Addon | null {
  if (addon === undefined) addon = loadNative<Addon>('malloctrim') ?? null;
  return addon;
}

/**
 * Set in the environment of the agent's re-executed image: `1` with MALLOC_ARENA_MAX (it is the one
 * with the cap), `0` when it was re-executed for V8 flags only.
 */
const EXEC_MARK = 'SEXTANT_AGENT_ARENAS_EXEC';
/** The V8 flags the re-exec added to node's command line (agent/v8flags.ts), for the new image to drop from `process.execArgv`. */
const V8_MARK = 'SEXTANT_AGENT_V8_EXEC';

/**
 * How many malloc arenas the agent's threads share: `SEXTANT_AGENT_MALLOC_ARENAS`, default 1; `0`
 * leaves glibc's default (8 per core). glibc gives every thread that allocates an arena of its own
 * while there are fewer than that, each a 64 MiB reservation whose freed pieces stay resident between
 * trims; V8's compile and garbage-collection threads and libuv's pool made 4-5 of them in the agent,
 * 9 MiB resident with no VIP and 13-19 MiB at 10,000 VIPs (docs/benchmarks/l4lb.md, session 21).
 * With one, every thread allocates from the main heap (glibc's per-thread cache keeps most
 * allocations off its lock). Those threads take their arena during Node's own start, before any
 * JavaScript runs, and keep it: `mallopt(M_ARENA_MAX)` from the agent's main stops only later ones.
 * So the `sextant agent` command (`exec: true`) replaces its image once, at its start, with the same
 * command and `MALLOC_ARENA_MAX` in the environment, which glibc reads before the first thread
 * (execve: same PID, same descriptors, no second process; about 0.1 s more at start); the
 * re-executed agent removes the variable and its mark from its environment, so what it starts does
 * not inherit them. `MALLOC_ARENA_MAX` set by whoever started the agent is left as it is. The same
 * re-exec puts the agent's start-time V8 flags on node's command line (agent/v8flags.ts,
 * `SEXTANT_AGENT_V8_FLAGS`; it happens for them alone when the arenas need none), and the new image
 * removes them from `process.execArgv`, so forked processes do not inherit them either. Returns
 * what was done: `exec` (this image has the cap), `env` (the operator's MALLOC_ARENA_MAX),
 * `mallopt` (only for arenas from now on: the exec failed or was not asked for), or undefined (off,
 * no native module or no glibc).
 */
export function capMallocArenas(env: NodeJS.ProcessEnv = process.env, opts: { exec?: boolean } = {}): 'exec' | 'env' | 'mallopt' | undefined {
  const raw = env.SEXTANT_AGENT_MALLOC_ARENAS ?? '1';
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n > 64) throw new Error(`SEXTANT_AGENT_MALLOC_ARENAS='${raw}': an integer from 0 (glibc's default) to 64`);
  const added = env[V8_MARK];
  if (added !== undefined) {
    delete env[V8_MARK];
    dropAddedFlags(process.execArgv, added.split(' ').filter(Boolean));
  }
  const mark = env[EXEC_MARK];
  if (mark !== undefined) {
    delete env[EXEC_MARK];
    if (mark === '1') {
      delete env.MALLOC_ARENA_MAX;
      return 'exec';
    }
  }
  const v8 = mark === undefined ? agentV8Flags(env) : []; // checked even when there is no exec
  const arenas = n !== 0 && env.MALLOC_ARENA_MAX === undefined;
  const addon = native();
  if (opts.exec && addon && (arenas || v8.length)) {
    const extra = { [EXEC_MARK]: arenas ? '1' : '0', ...(arenas ? { MALLOC_ARENA_MAX: String(n) } : {}), ...(v8.length ? { [V8_MARK]: v8.join(' ') } : {}) };
    const vars = Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v ?? ''}`);
    try {
      addon.exec(process.execPath, [process.argv0, ...process.execArgv, ...v8, ...process.argv.slice(1)], vars);
    } catch {
      /* execve failed: cap what is left below; the V8 flags set at run time (agent/heap.ts) still hold */
    }
  }
  if (n === 0) return undefined;
  if (env.MALLOC_ARENA_MAX !== undefined) return 'env';
  if (!addon) return undefined;
  return addon.arenaMax(n) ? 'mallopt' : undefined;
}

/** Whether the agent trims (not `SEXTANT_AGENT_MALLOC_TRIM=0`; the native module aside). */
export function mallocTrimEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.SEXTANT_AGENT_MALLOC_TRIM !== '0';
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
  if (!mallocTrimEnabled() || mallocTrim() === undefined) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void mallocTrimAsync()?.finally(() => (running = false));
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
