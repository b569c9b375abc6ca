/**
 * When the agent gives V8's idle memory back (agent/release.ts, issue #26): a release is a few full,
 * compacting collections on the main thread, which then answers nothing (DNS queries included), so
 * it happens only when all of these hold:
 *
 * - quiet: no update is being applied, and the last one ended `quietMs` ago or more (a release in
 *   the middle of a burst of versions would be undone by the next one, and delay it);
 * - something to give back: V8's committed heap (`heapTotal`) or the RSS grew by `growthBytes` or
 *   more over the lowest seen since the last release (or since the start);
 * - rare: `minIntervalMs` or more since the last release began.
 *
 * Pure: the clock is given, memory figures are passed in; agent/release.ts calls `check` on a timer.
 */

export interface ReleaseSettings {
  /** The agent has applied no update for this long. */
  quietMs: number;
  /** heapTotal or RSS above their low-water mark since the last release by this much. */
  growthBytes: number;
  /** At most one release per this long. */
  minIntervalMs: number;
}

export const RELEASE_DEFAULTS: ReleaseSettings = { quietMs: 1500, growthBytes: 8 << 20, minIntervalMs: 30_000 };

/** What the policy looks at (`process.memoryUsage()`'s fields). */
export interface MemorySample {
  heapTotal: number;
  rss: number;
}

/** `release`, or why not. */
export type ReleaseVerdict = 'release' | 'applying' | 'not-quiet' | 'too-soon' | 'nothing-to-give';

export class ReleasePolicy {
  private applying = 0;
  private lastActivity: number;
  private lastRelease = -Infinity;
  private low: MemorySample;

  constructor(
    private readonly s: ReleaseSettings,
    private readonly now: () => number,
    start: MemorySample,
  ) {
    this.lastActivity = now();
    this.low = { ...start };
  }

  /** An update starts being applied; call the returned function (once) when it is done. */
  begin(): () => void {
    this.applying++;
    this.lastActivity = this.now();
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.applying--;
      this.lastActivity = this.now();
    };
  }

  /** Whether to release now, given the memory now (which also lowers the low-water mark). */
  check(m: MemorySample): ReleaseVerdict {
    this.low = { heapTotal: Math.min(this.low.heapTotal, m.heapTotal), rss: Math.min(this.low.rss, m.rss) };
    const t = this.now();
    if (this.applying > 0) return 'applying';
    if (t - this.lastActivity < this.s.quietMs) return 'not-quiet';
    if (t - this.lastRelease < this.s.minIntervalMs) return 'too-soon';
    if (m.heapTotal - this.low.heapTotal < this.s.growthBytes && m.rss - this.low.rss < this.s.growthBytes) return 'nothing-to-give';
    return 'release';
  }

  /** A release began now; `after` is the memory once it (and the malloc trim after it) ended. */
  released(after: MemorySample, at = this.now()): void {
    this.lastRelease = at;
    this.low = { ...after };
  }
}
