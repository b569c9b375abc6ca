/**
 * The health seam (issue #28, DC/OS 3DT): each component registers a few checks of its own real
 * state with the process it runs in; the node serves them as units on `GET /system/health/v1` and
 * the masters aggregate them. A check resolves `{healthy, output}`; one that throws or does not
 * answer in time counts as unhealthy, its `output` saying why (the runner in diag/ does that).
 */

export interface HealthResult {
  healthy: boolean;
  /** One or a few lines an operator reads: what was checked and, when unhealthy, what is wrong. */
  output: string;
}

export interface HealthCheck {
  /** The unit id, as DC/OS named its systemd units: `sextant-dns-dispatcher`, `sextant-l4lb`, ... */
  readonly id: string;
  /** The unit's display name (`DNS dispatcher`). */
  readonly name: string;
  /** What the unit is and where to look when it is unhealthy. */
  readonly help: string;
  check(signal: AbortSignal): Promise<HealthResult>;
}

/** Where a component registers its checks (the process's health registry); returns the remover. */
export interface HealthChecks {
  add(check: HealthCheck): () => void;
}

/** The unit ids the components register (docs/decisions.md says what each checks). */
export const UNITS = {
  dispatcher: 'sextant-dns-dispatcher',
  l4lb: 'sextant-l4lb',
  overlay: 'sextant-overlay',
  control: 'sextant-control',
  cni: 'sextant-cni',
  mesosDns: 'sextant-mesos-dns',
  masterStore: 'sextant-master-store',
} as const;
