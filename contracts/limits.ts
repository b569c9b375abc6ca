/** Upper bounds on what the master's APIs accept (the master reads them from SEXTANT_MAX_*). */

export interface Limits {
  /** `instances` of one app. */
  instancesPerApp: number;
  /** Apps in the cluster. */
  apps: number;
  /** Tasks the master places on one agent (and an agent may report at registration). */
  tasksPerAgent: number;
  /** portDefinitions / portMappings of one app. */
  portsPerApp: number;
  /** Entries of one labels or env map. */
  labelsPerMap: number;
  labelKeyLength: number;
  labelValueLength: number;
  /** Length of one app id path segment (Marathon: 255), and of the whole id. */
  idSegmentLength: number;
  idLength: number;
  /** Isolation rules that name one network. */
  rulesPerNetwork: number;
  /** Virtual networks. */
  networks: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  instancesPerApp: 1000,
  apps: 10000,
  tasksPerAgent: 1000,
  portsPerApp: 100,
  labelsPerMap: 100,
  labelKeyLength: 255,
  labelValueLength: 4096,
  idSegmentLength: 255,
  idLength: 1024,
  rulesPerNetwork: 1000,
  networks: 64,
});
