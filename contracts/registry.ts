/**
 * The registration objects the composition root makes, one per process and kind. Adding is
 * replayed to every follower, so the order in which plugins are built does not matter.
 */
import type { AgentControl, MasterControl, PartSource, Snapshot, SnapshotConsumer } from './control.js';

class Followed<T> {
  private readonly items: T[] = [];
  private readonly followers = new Set<(x: T) => void>();

  add(x: T): void {
    this.items.push(x);
    for (const fn of this.followers) fn(x);
  }

  follow(fn: (x: T) => void): () => void {
    for (const x of this.items) fn(x); // an item added meanwhile is reached by this loop
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }
}

export function createMasterControl(): MasterControl {
  const sources = new Followed<PartSource>();
  let settled: (() => Promise<number | undefined>) | undefined;
  return {
    addSource: (s) => sources.add(s),
    onSource: (fn) => sources.follow(fn),
    settledVersion: () => (settled ? settled() : Promise.resolve(undefined)),
    provideSettledVersion: (fn) => void (settled = fn),
  };
}

/**
 * `onApply`: called as each consumer starts applying a snapshot; the function it returns when that
 * apply settles (the agent's memory release waits for quiet: AgentHandle.applyingUpdate).
 */
export function createAgentControl(onApply?: () => () => void): AgentControl {
  const consumers = new Followed<SnapshotConsumer>();
  const watched = (c: SnapshotConsumer): SnapshotConsumer => {
    if (!onApply) return c;
    const apply = async (view: Snapshot, signal?: AbortSignal) => {
      const done = onApply();
      try {
        await c.apply(view, signal);
      } finally {
        done();
      }
    };
    // The consumer's own object with `apply` wrapped: its other properties (name, parts, ...) as they are.
    return Object.create(c, { apply: { value: apply, enumerable: true } }) as SnapshotConsumer;
  };
  return { addConsumer: (c) => consumers.add(watched(c)), onConsumer: (fn) => consumers.follow(fn) };
}
