/**
 * `sextant agent --master zk://H1:2181,.../mesos`: the elected master, found the way a Mesos agent
 * finds it, from the masters' `json.info_<seq>` election znodes under the URL's path (Mesos-DNS's
 * detector, dns/). Reports the leader's `host:port` on every change; while no master is elected
 * the last leader is kept as `last` and `current` is undefined (the agent keeps everything as it is).
 */
import { createRegistry } from '../common/metrics.js';
import type { Logger } from '../common/log.js';
import { parseZkUrl } from '../common/zk-url.js';

export interface LeaderFollower {
  /** The elected master's Mesos `host:port`, undefined while none is known. */
  current(): string | undefined;
  /** Resolves with the first leader seen. */
  first(): Promise<string>;
  stop(): Promise<void>;
}

export function isZkMaster(v: string): boolean {
  return v.startsWith('zk://');
}

/** Throws ConfigError naming `--master` for a bad URL. */
export function checkZkMaster(url: string): void {
  parseZkUrl(url, '--master');
}

export async function followLeader(url: string, log: Logger, onChange: (leader: string | undefined) => void, sessionTimeoutMs = 4000): Promise<LeaderFollower> {
  const { ZkDetector, ZkMetrics } = await import('../dns/index.js');
  let leader: string | undefined;
  const waiters: ((l: string) => void)[] = [];
  // The detector's metrics are Mesos-DNS's names: kept in a registry of their own, not the agent's.
  const detector = new ZkDetector({
    url,
    log,
    sessionTimeoutMs,
    retryMs: 200,
    metrics: new ZkMetrics(createRegistry()),
    onChange: (v) => {
      if (v.leader === leader) return;
      log.info('master_leader_detected', { leader: v.leader ?? null, previous: leader ?? null, masters: v.masters });
      leader = v.leader;
      if (leader) for (const w of waiters.splice(0)) w(leader);
      onChange(leader);
    },
  });
  detector.start();
  return {
    current: () => leader,
    first: () => (leader ? Promise.resolve(leader) : new Promise((r) => waiters.push(r))),
    stop: () => detector.stop(),
  };
}
