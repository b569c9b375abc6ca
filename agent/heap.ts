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

export const AGENT_V8_FLAGS = ['--semi-space-growth-factor=1', '--optimize-for-size'] as const;

/** Apply AGENT_V8_FLAGS to this process (idempotent). */
export function limitYoungGeneration(): void {
  for (const f of AGENT_V8_FLAGS) setFlagsFromString(f);
}

/** The young generation's current size in bytes (both semi-spaces). */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}
