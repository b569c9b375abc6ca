/**
 * The agent's held view: what the master last sent, kept across disconnects (fail static). Updates
 * are checked in full before anything changes, so a bad update leaves the view as it was.
 */
import { parseUpserts } from './delta.js';
import { DEFAULT_OVERLAY } from './engine.js';
import type { WireUpdate } from './proto.js';
import { PART_NAMES, type OverlayConfig, type PartName, type Snapshot, type SnapshotParts } from '../contracts/index.js';

export class UpdateMismatch extends Error {
  override name = 'UpdateMismatch';
}

export class HeldView {
  history = '';
  version = 0;
  overlay: OverlayConfig = DEFAULT_OVERLAY;
  private readonly parts = new Map<PartName, Map<string, unknown>>(PART_NAMES.map((p) => [p, new Map()]));

  /** Fold one update in; throws (changing nothing) when it does not follow what is held or is malformed. */
  apply(u: WireUpdate): { changed: boolean } {
    if (!u.history) throw new UpdateMismatch('update without a history');
    if (!u.full && (u.history !== this.history || u.from_version !== this.version))
      throw new UpdateMismatch(`delta ${u.history}/${u.from_version}->${u.version} does not follow held ${this.history || '(none)'}/${this.version}`);
    const parsed = u.parts.map((p) => {
      if (!(PART_NAMES as string[]).includes(p.part)) throw new UpdateMismatch(`unknown part '${p.part}'`);
      return { part: p.part as PartName, upserts: parseUpserts(p.part, p.upserts), removes: p.removes };
    });
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
      const m = this.parts.get(p.part)!;
      for (const k of p.removes) changed = m.delete(k) || changed;
      for (const { key, entry } of p.upserts) m.set(key, entry);
      if (p.upserts.length) changed = true;
    }
    if (overlay) {
      this.overlay = overlay;
      changed = true;
    }
    this.history = u.history;
    this.version = u.version;
    return { changed };
  }

  /** The whole view as a Snapshot, entries sorted by key. */
  snapshot(): Snapshot {
    const parts = {} as Record<PartName, unknown[]>;
    for (const [p, m] of this.parts) parts[p] = [...m.keys()].sort().map((k) => m.get(k));
    return { history: this.history, version: this.version, overlay: this.overlay, parts: parts as unknown as SnapshotParts };
  }

  count(part: PartName): number {
    return this.parts.get(part)!.size;
  }
}
