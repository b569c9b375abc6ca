/**
 * The snapshot engine: registered PartSources -> coalesced rebuild (at most one per interval) ->
 * new version with its changes kept in a bounded log -> encoded updates per (from version, parts),
 * computed once and shared by every agent stream that needs the same one.
 *
 * Version continuity: with a store, a version is saved before any agent can see it (write-ahead).
 * A master that takes over (a restart, or a new leader reading ZooKeeper) restores the last saved
 * version, which is at least the last version any agent was sent, with that very content, so an
 * agent's version never goes backwards and one at the restored version resumes with a delta. A
 * save that fails (no ZooKeeper quorum, leadership lost) publishes nothing; the rebuild is retried.
 */
import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../common/clock.js';
import { ConflictError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { Coalescer } from '../common/coalesce.js';
import { type Changes, diffPart, mergeChanges, type PartChanges, type PartState, splitChanges, canonicalJson } from './delta.js';
import { loadControlProto, type WirePartUpdate } from './proto.js';
import { DEFAULT_OVERLAY, PART_NAMES, type OverlayConfig, type PartName, type PartSource, type SnapshotParts } from '../contracts/index.js';

export { DEFAULT_OVERLAY };

/** What the engine persists so a restarted master continues the same history. */
export interface PersistedSnapshot {
  history: string;
  version: number;
  overlay: OverlayConfig;
  parts: Partial<SnapshotParts>;
}

export interface SnapshotStore {
  load(): Promise<PersistedSnapshot | undefined>;
  save(s: PersistedSnapshot): Promise<void>;
}

export interface EngineOptions {
  clock?: Clock;
  /** At most one new version per this many ms (default 50). */
  coalesceMs?: number;
  /** Versions of changes kept for deltas (default 1000); older agents get a full snapshot. */
  retain?: number;
  /** After a failed save, rebuild again after this many ms (default 1000). */
  retryMs?: number;
  /** History id when nothing is persisted (default: random). */
  history?: string;
  store?: SnapshotStore;
  overlay?: OverlayConfig;
  log?: Logger;
}

interface LogEntry {
  version: number;
  at: number;
  changes: Changes;
  overlay: boolean;
}

export interface EncodedUpdate {
  buf: Buffer;
  version: number;
  full: boolean;
}

export class SnapshotEngine {
  private readonly clock: Clock;
  /** Rebuilds: at most one at a time and one per `coalesceMs`, the first change after a quiet interval at once. */
  private readonly rebuilds: Coalescer;
  private readonly retain: number;
  private readonly log: Logger;
  private readonly sources = new Map<PartName, PartSource>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly parts = new Map<PartName, PartState>(PART_NAMES.map((p) => [p, new Map()]));
  private readonly changeLog: LogEntry[] = [];
  private readonly listeners = new Set<(version: number) => void>();
  private readonly cache = new Map<string, EncodedUpdate>();
  private overlayConfig: OverlayConfig;
  private hist: string;
  private ver = 0;
  private running = false;
  private pendingOverlay: OverlayConfig | undefined;
  private retryTimer: unknown;
  /** Rebuilds started so far; a settle() waits for one started after it was called. */
  private rebuildsStarted = 0;
  private readonly settlers: { after: number; resolve: (v: number | undefined) => void }[] = [];

  constructor(private readonly opts: EngineOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.retain = opts.retain ?? 1000;
    this.log = opts.log ?? createLogger('control');
    this.hist = opts.history ?? randomBytes(8).toString('hex');
    this.overlayConfig = opts.overlay ?? DEFAULT_OVERLAY;
    this.rebuilds = new Coalescer(() => this.rebuild().catch((err) => this.log.error('rebuild_failed', { err })), { intervalMs: opts.coalesceMs ?? 50, clock: this.clock });
  }

  get history(): string {
    return this.hist;
  }
  get version(): number {
    return this.ver;
  }
  get overlay(): OverlayConfig {
    return this.overlayConfig;
  }

  /** One source per part; a second source for the same part is a ConflictError. */
  addSource(source: PartSource): void {
    if (this.sources.has(source.part)) throw new ConflictError(`a source for part '${source.part}' is already registered`);
    this.sources.set(source.part, source);
    if (this.running) {
      this.unsubscribe.push(source.onChange(() => this.changed()));
      this.changed();
    }
  }

  onVersion(fn: (version: number) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Creation time (clock ms) of a version still in the log. */
  versionTime(version: number): number | undefined {
    const first = this.changeLog[0];
    if (!first) return undefined;
    return this.changeLog[version - first.version]?.at;
  }

  async start(): Promise<void> {
    const saved = await this.opts.store?.load();
    if (saved) this.restore(saved);
    this.running = true;
    for (const s of this.sources.values()) this.unsubscribe.push(s.onChange(() => this.changed()));
    this.changed();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.rebuilds.stop();
    for (const w of this.settlers.splice(0)) w.resolve(undefined);
  }

  /** A new overlay configuration: published as the next version (saved first, like every version). */
  setOverlay(cfg: OverlayConfig): void {
    if (canonicalJson(cfg) === canonicalJson(this.pendingOverlay ?? this.overlayConfig)) return;
    this.pendingOverlay = cfg;
    this.changed();
  }

  /**
   * The version that carries what every source says as of this call: a rebuild starts after the
   * call, and once one such rebuild has published (its new version) or found nothing to change (the
   * current version), this resolves with the version. A rebuild whose save failed does not count:
   * the retry does. Undefined when the engine is not running or stops first.
   */
  settle(): Promise<number | undefined> {
    if (!this.running) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.settlers.push({ after: this.rebuildsStarted, resolve });
      this.changed();
    });
  }

  /** A rebuild numbered `run` ended with the snapshot current: answer the settle() calls made before it started. */
  private settled(run: number): void {
    for (let i = this.settlers.length - 1; i >= 0; i--) {
      const w = this.settlers[i]!;
      if (w.after < run) {
        this.settlers.splice(i, 1);
        w.resolve(this.ver);
      }
    }
  }

  /** Resolves when no rebuild is running or about to start; one waiting for its interval does not count (tests). */
  idle(): Promise<void> {
    return this.rebuilds.idle();
  }

  /** A source said something changed: rebuild now, or when the interval since the last one ends. */
  changed(): void {
    if (!this.running) return;
    this.rebuilds.trigger();
  }

  private async rebuild(): Promise<void> {
    const run = ++this.rebuildsStarted;
    const at = this.clock.now();
    const changes: Changes = {};
    const next = new Map<PartName, PartState>();
    for (const [part, source] of this.sources) {
      let entries: readonly unknown[];
      try {
        entries = await source.entries();
        if (!Array.isArray(entries)) throw new Error('entries() did not return a list');
      } catch (e) {
        this.log.error('source_failed', { part, err: e });
        continue; // keep the part as it was
      }
      const d = diffPart(this.parts.get(part)!, entries);
      if (d.invalid.length) this.log.warn('source_entries_without_key', { part, count: d.invalid.length });
      if (d.duplicates.length) this.log.warn('source_duplicate_keys', { part, keys: d.duplicates.slice(0, 5) });
      if (d.changes.size) {
        next.set(part, d.next);
        changes[part] = d.changes;
      }
    }
    const overlay = this.pendingOverlay;
    if (!Object.keys(changes).length && !overlay) return this.settled(run);
    // Write-ahead: the version is durable before any agent sees it.
    const store = this.opts.store;
    if (store) {
      try {
        await store.save(this.snapshotData(next, overlay, this.ver + 1));
      } catch (e) {
        const retryMs = this.opts.retryMs ?? 1000;
        this.log.error('persist_failed', { err: e, version: this.ver + 1, why: `version not published until it is saved; retrying in ${retryMs} ms` });
        if (this.running && this.retryTimer === undefined)
          this.retryTimer = this.clock.setTimeout(() => {
            this.retryTimer = undefined;
            this.changed();
          }, retryMs);
        return;
      }
    }
    for (const [part, state] of next) this.parts.set(part, state);
    if (overlay) {
      this.overlayConfig = overlay;
      if (this.pendingOverlay === overlay) this.pendingOverlay = undefined;
    }
    this.commit(changes, !!overlay, at);
    this.settled(run);
  }

  /** `at`: when the change was seen (build start), for convergence latency. */
  private commit(changes: Changes, overlay: boolean, at: number): void {
    this.ver++;
    this.changeLog.push({ version: this.ver, at, changes, overlay });
    if (this.changeLog.length > this.retain) this.changeLog.splice(0, this.changeLog.length - this.retain);
    this.cache.clear();
    this.log.debug('version', { history: this.hist, version: this.ver, parts: Object.keys(changes) });
    for (const fn of this.listeners) fn(this.ver);
  }

  /** What is saved: the current parts with `next` over them, at `version`. */
  snapshotData(next: ReadonlyMap<PartName, PartState> = new Map(), overlay?: OverlayConfig, version = this.ver): PersistedSnapshot {
    const parts: Partial<SnapshotParts> = {};
    for (const [p, m] of this.parts) (parts as Record<string, unknown[]>)[p] = [...(next.get(p) ?? m).values()].map((j) => JSON.parse(j));
    return { history: this.hist, version, overlay: overlay ?? this.overlayConfig, parts };
  }

  private restore(s: PersistedSnapshot): void {
    this.hist = s.history;
    this.ver = s.version;
    if (s.overlay) this.overlayConfig = s.overlay;
    for (const p of PART_NAMES) {
      const d = diffPart(new Map(), (s.parts[p] as unknown[] | undefined) ?? []);
      this.parts.set(p, d.next);
    }
    this.log.info('restored', { history: s.history, version: s.version });
  }

  /** Can an agent holding (history, version) be brought current with a delta? */
  canDelta(history: string, version: number): boolean {
    if (history !== this.hist || version > this.ver) return false;
    if (version === this.ver) return true;
    const first = this.changeLog[0];
    return !!first && version >= first.version - 1;
  }

  /** The encoded update bringing (history, version) to the current version for these parts. */
  updateFor(history: string, version: number, parts: readonly PartName[]): EncodedUpdate {
    const full = !this.canDelta(history, version);
    const cacheKey = `${full ? 'full' : version}|${parts.join(',')}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    const wire = full ? this.fullParts(parts) : this.deltaParts(version, parts);
    const overlayChanged = full || this.changeLog.some((e) => e.version > version && e.overlay);
    const buf = loadControlProto().encodeUpdate({
      history: this.hist,
      version: this.ver,
      full,
      from_version: full ? 0 : version,
      parts: wire,
      overlay: overlayChanged ? JSON.stringify(this.overlayConfig) : '',
    });
    const enc = { buf, version: this.ver, full };
    if (this.cache.size > 256) this.cache.clear();
    this.cache.set(cacheKey, enc);
    return enc;
  }

  private fullParts(parts: readonly PartName[]): WirePartUpdate[] {
    return parts.map((part) => ({ part, upserts: [...this.parts.get(part)!.values()], removes: [] }));
  }

  private deltaParts(version: number, parts: readonly PartName[]): WirePartUpdate[] {
    const merged = new Map<PartName, PartChanges>();
    const first = this.changeLog[0];
    if (first && version < this.ver) {
      for (let i = version + 1 - first.version; i < this.changeLog.length; i++) {
        const e = this.changeLog[i]!;
        for (const p of parts) {
          const c = e.changes[p];
          if (!c) continue;
          if (!merged.has(p)) merged.set(p, new Map());
          mergeChanges(merged.get(p)!, c);
        }
      }
    }
    return [...merged].map(([part, c]) => ({ part, ...splitChanges(c) }));
  }

  /** The current entries of a part (parsed), for status pages and tests. */
  entries<P extends PartName>(part: P): SnapshotParts[P] {
    return [...this.parts.get(part)!.values()].map((j) => JSON.parse(j)) as SnapshotParts[P];
  }
}
