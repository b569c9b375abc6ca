/**
 * Shared strings for the entries the agent decodes (issue #26). JSON.parse makes a new string for
 * every value, so a full update at 10,000 VIPs x 3 backends held the same agent id 30,000 times, each
 * task id once per port of its task (100 times in the bench), and every named VIP's DNS name twice
 * (the VIP's `dns_name` and its `zones` record's `name`). The held view keeps entries for as long as
 * they are current, so those copies were held too (3-4 MB at that size).
 *
 * Two tables: `lasting` for the values that recur across updates and are few (agent ids, addresses,
 * frameworks, protocols, record types), kept between updates up to a bound (cleared when full, which
 * only costs sharing); `update` for the values shared within one update only (task ids, DNS names,
 * a VIP's address and its name record's data: one string, 10,000 at 10,000 named VIPs), emptied
 * after it so a removed entry's strings are not kept alive by the table.
 */
import type { PartName } from '../contracts/index.js';

/** Above this many lasting values the table starts again (a bound on what it can keep alive). */
const MAX_LASTING = 4096;

export class Interner {
  private readonly lasting = new Map<string, string>();
  private readonly update = new Map<string, string>();

  constructor(private readonly maxLasting = MAX_LASTING) {}

  /** Entries of one update are about to be decoded (values of the previous one are forgotten). */
  beginUpdate(): void {
    this.update.clear();
  }

  /** Done with an update: drop its table. */
  endUpdate(): void {
    this.update.clear();
  }

  /** Fields of an entry of `part`, shared in place (an entry of an unexpected shape is left as it is). */
  entry(part: PartName | string, entry: unknown): void {
    if (part === 'vips') this.vip(entry);
    else if (part === 'zones') this.zone(entry);
  }

  /** The held copy of a value that recurs across updates. */
  lastingOf(s: string): string {
    const have = this.lasting.get(s);
    if (have !== undefined) return have;
    if (this.lasting.size >= this.maxLasting) this.lasting.clear();
    this.lasting.set(s, s);
    return s;
  }

  /** The held copy of a value within this update. */
  updateOf(s: string): string {
    const have = this.update.get(s);
    if (have !== undefined) return have;
    this.update.set(s, s);
    return s;
  }

  get sizes(): { lasting: number; update: number } {
    return { lasting: this.lasting.size, update: this.update.size };
  }

  private vip(v: unknown): void {
    if (!isObject(v)) return;
    this.field(v, 'framework', true);
    this.field(v, 'protocol', true);
    this.field(v, 'dns_name', false);
    this.field(v, 'ip', false);
    const backends = v.backends;
    if (!Array.isArray(backends)) return;
    for (const b of backends) {
      if (!isObject(b)) continue;
      this.field(b, 'ip', true);
      this.field(b, 'agent_id', true);
      this.field(b, 'task_id', false);
    }
  }

  private zone(r: unknown): void {
    if (!isObject(r)) return;
    this.field(r, 'name', false);
    this.field(r, 'type', true);
    this.field(r, 'data', false);
  }

  private field(o: Record<string, unknown>, k: string, lasting: boolean): void {
    const s = o[k];
    if (typeof s !== 'string') return;
    o[k] = lasting ? this.lastingOf(s) : this.updateOf(s);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
