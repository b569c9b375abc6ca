/**
 * The agent's held view: what the master last sent, kept across disconnects (fail static). Updates
 * are checked in full before anything changes, so a bad update leaves the view as it was. Each part
 * stays sorted by key as it changes (sorted-part.ts): folding an update in and taking the snapshot
 * cost what changed, and a part that did not change is the same array in the next snapshot.
 */
import { parseUpserts } from './delta.js';
import { Interner } from './intern.js';
import { DEFAULT_OVERLAY } from './engine.js';
import { SortedPart } from './sorted-part.js';
import type { WireUpdate } from './proto.js';
import { PART_NAMES, type OverlayConfig, type PartName, type Snapshot, type SnapshotParts } from '../contracts/index.js';

export class UpdateMismatch extends Error {
  override name = 'UpdateMismatch';
}

export class HeldView {
  history = '';
  version = 0;
  overlay: OverlayConfig = DEFAULT_OVERLAY;
  private readonly parts = new Map<PartName, SortedPart>(PART_NAMES.map((p) => [p, new SortedPart()]));
  /** Repeated values of the entries held once (intern.ts); `intern: false` only to measure it. */
  private readonly interner: Interner | undefined;

  constructor(opts: { intern?: boolean } = {}) {
    this.interner = opts.intern === false ? undefined : new Interner();
  }

  /** Fold one update in; throws (changing nothing) when it does not follow what is held or is malformed. */
  apply(u: WireUpdate): { changed: boolean } {
    if (!u.history) throw new UpdateMismatch('update without a history');
    if (!u.full && (u.history !== this.history || u.from_version !== this.version))
      throw new UpdateMismatch(`delta ${u.history}/${u.from_version}->${u.version} does not follow held ${this.history || '(none)'}/${this.version}`);
    this.interner?.beginUpdate();
    let parsed: { part: PartName; upserts: { key: string; entry: unknown }[]; removes: string[] }[];
    try {
      parsed = u.parts.map((p) => {
        if (!(PART_NAMES as string[]).includes(p.part)) throw new UpdateMismatch(`unknown part '${p.part}'`);
        return { part: p.part as PartName, upserts: parseUpserts(p.part, p.upserts, this.interner), removes: p.removes };
      });
    } finally {
      this.interner?.endUpdate();
    }
    let overlay: OverlayConfig | undefined;
    if (u.overlay) {
      try {
        overlay = JSON.parse(u.overlay) as OverlayConfig;
      } catch (e) {
        throw new UpdateMismatch(`overlay: not JSON: ${(e as Error).message}`);
      }
    }
    if (u.full) for (const m of this.parts.values()) m.clear();
    let changed = u.full || u.history !== this.history;
    for (const p of parsed) {
      changed = this.parts.get(p.part)!.update(p.removes, p.upserts) || changed;
    }
    if (overlay) {
      this.overlay = overlay;
      changed = true;
    }
    this.history = u.history;
    this.version = u.version;
    return { changed };
  }

  /**
   * The whole view as a Snapshot, entries sorted by key. A part unchanged since the last call is the
   * very same array (never mutated afterwards): consumers may skip it by identity.
   */
  snapshot(): Snapshot {
    const parts = {} as Record<PartName, unknown[]>;
    for (const [p, m] of this.parts) parts[p] = m.entries();
    return { history: this.history, version: this.version, overlay: this.overlay, parts: parts as unknown as SnapshotParts };
  }

  count(part: PartName): number {
    return this.parts.get(part)!.size;
  }
}
