/**
 * The agent's V8 heap settings, applied by the agent itself at start, whatever started it (the
 * `sextant` bin, `node dist/cli/sextant.js agent`, `sextant up`, a unit file): nothing depends on
 * NODE_OPTIONS (which every child process would inherit) or on a re-exec (a second process).
 *
 * `--semi-space-growth-factor=1`: V8 doubles the young generation's semi-spaces (up to 16 MiB
 * each) whenever a scavenge finds much alive, and keeps them. Programming 10,000 VIPs from empty
 * grows them to the maximum: +25-30 MB of RSS for garbage that lives microseconds. With the
 * factor at 1 they stay at the size they have (V8 reads this flag at each growth decision, so it
 * works set at run time; `--max-semi-space-size` is read only when the heap is created). The cost:
 * more frequent scavenges, each as cheap (few survivors).
 *
 * `--optimize-for-size`: V8 grows the old generation by smaller steps and collects sooner (its heap
 * growing factor is read at each decision, so this too works set at run time). A real agent taking
 * 10,000 VIPs x 3 backends from the master peaked at about 400 MB RSS without it (the decoded
 * update, the views and the consumers' rebuilds pile up as garbage between full collections) and
 * about 180 MB with it (bench/l4lb/agent.ts, docs/benchmarks/l4lb.md "The agent process"). The cost:
 * more garbage-collection CPU when much is allocated.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const AGENT_V8_FLAGS = ['--semi-space-growth-factor=1', '--optimize-for-size'] as const;

/** Apply AGENT_V8_FLAGS to this process (idempotent). */
export function limitYoungGeneration(): void {
  for (const f of AGENT_V8_FLAGS) setFlagsFromString(f);
}

/** The young generation's current size in bytes (both semi-spaces). */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * A full collection when the V8 heap and the memory its objects hold outside it (Buffers: `external`)
 * grew by `COLLECT_GROWTH_BYTES` since the last one this ran (issue #26). A large control-plane update
 * arrives as a 5-8 MB gRPC message in HTTP/2 frames: once decoded, those Buffers are garbage, but V8
 * frees a Buffer's memory only when a full collection finds its (by then old) wrapper, and it starts one
 * for external memory only after 64 MB more of it; an agent at rest allocates too little to start one
 * otherwise. So the dead buffers of the last large update (11-17 MB at 10,000 VIPs) stayed in the RSS
 * for minutes. Called before each malloc trim (agent/malloc.ts, every 10 s): nothing when the agent did
 * not grow (a comparison); else one full collection (10-40 ms of the main thread at 10,000 VIPs, about
 * once per large update or metrics scrape of that size), after which the trim returns the freed pages.
 * The collector is reached as `--expose-gc` gives it to a new context (set at run time, as the flags
 * above). `SEXTANT_AGENT_COLLECT=0` turns it off. Returns whether it collected.
 */
export const COLLECT_GROWTH_BYTES = 8 << 20;

let gcFn: (() => void) | null | undefined;
let collectedAt = -1;

function collector(): (() => void) | null {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
      if (typeof gcFn !== 'function') gcFn = null;
    } catch {
      gcFn = null;
    }
  }
  return gcFn;
}

const held = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

export function collectIfGrown(growth = COLLECT_GROWTH_BYTES): boolean {
  if (process.env.SEXTANT_AGENT_COLLECT === '0') return false;
  const now = held();
  if (collectedAt >= 0 && now - collectedAt < growth) return false;
  const gc = collector();
  if (!gc) return false;
  // Buffers' memory is freed by a sweep V8 runs beside the collection and accounts for at the next
  // one: swept within this one instead, so the memory (and `external`) is back when it returns.
  setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  try {
    gc();
  } finally {
    setFlagsFromString('--concurrent-array-buffer-sweeping');
  }
  collectedAt = held();
  return true;
}
