/**
 * The `sextant-mesos-dns` unit (masters): Mesos-DNS loaded the master's state within its refresh
 * window, i.e. it has records, and no change of the master state has waited longer than
 * RefreshSeconds for them to be regenerated (a malformed state or a failing generation keeps the
 * old records: fail static, but unhealthy).
 */
import type { Clock } from '../../common/clock.js';
import { UNITS, type HealthCheck } from '../../contracts/index.js';

export interface LoadState {
  /** When records were last generated from the master state (clock ms). */
  loadedAt?: number;
  records?: number;
  /** The oldest change of the master state not yet reflected in the records (clock ms). */
  pendingSince?: number;
  lastError?: string;
  refreshSeconds: number;
  /** The DNS and HTTP servers listen (false before start, or when it failed: startError). */
  serving?: boolean;
  startError?: string;
}

export function mesosDnsHealthCheck(state: () => LoadState, clock: Clock): HealthCheck {
  return {
    id: UNITS.mesosDns,
    name: 'Mesos-DNS',
    help: 'Mesos-DNS on the master: records generated from the master state within RefreshSeconds of each change. Unhealthy: see the master log (state_rejected_keeping_old_records, regenerate_failed).',
    async check() {
      const s = state();
      const now = clock.now();
      const ago = (t: number) => `${((now - t) / 1000).toFixed(1)} s ago`;
      const err = s.lastError ? ` (last error: ${s.lastError})` : '';
      if (!s.serving) return { healthy: false, output: s.startError ? `not serving: ${s.startError}` : 'not started' };
      if (s.loadedAt === undefined) return { healthy: false, output: `no master state loaded yet${err}` };
      if (s.pendingSince !== undefined && now - s.pendingSince > s.refreshSeconds * 1000)
        return { healthy: false, output: `the master state changed ${ago(s.pendingSince)}, longer than RefreshSeconds (${s.refreshSeconds}), and the records were not regenerated since; last loaded ${ago(s.loadedAt)}${err}` };
      return { healthy: true, output: `${s.records ?? 0} record(s) from the master state loaded ${ago(s.loadedAt)}` };
    },
  };
}
