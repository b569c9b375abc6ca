/**
 * Marathon deployments: one per change of an app or of a group of apps (start, scale, restart,
 * stop each), listed while in progress and finished when every affected app's tasks have
 * converged to the target.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError } from '../../common/index.js';

export type DeploymentAction = 'StartApplication' | 'ScaleApplication' | 'RestartApplication' | 'StopApplication';

export interface Deployment {
  id: string;
  version: string;
  affectedApps: string[];
  affectedPods: string[];
  steps: { actions: { action: DeploymentAction; app: string }[] }[];
  currentActions: { action: DeploymentAction; app: string; readinessCheckResults: unknown[] }[];
  currentStep: number;
  totalSteps: number;
}

export interface DeploymentStep {
  app: string;
  action: DeploymentAction;
}

/** One deployment acting on every app given, all in one step (Sextant does not order them). */
export function newDeployment(actions: DeploymentStep[], version: string): Deployment {
  return {
    id: randomUUID(),
    version,
    affectedApps: actions.map((a) => a.app),
    affectedPods: [],
    steps: [{ actions: actions.map(({ action, app }) => ({ action, app })) }],
    currentActions: actions.map(({ action, app }) => ({ action, app, readinessCheckResults: [] })),
    currentStep: 1,
    totalSteps: 1,
  };
}

/** What the deployment does to one app (its first action when none names the app). */
export function deploymentAction(d: Deployment, appId?: string): DeploymentAction {
  const all = d.steps[0]!.actions;
  return (all.find((a) => a.app === appId) ?? all[0]!).action;
}

/** `StartApplication of /a, /b; StopApplication of /c`: the actions grouped by kind. */
export function describeActions(d: Deployment): string {
  const by = new Map<DeploymentAction, string[]>();
  for (const a of d.steps[0]!.actions) by.set(a.action, [...(by.get(a.action) ?? []), a.app]);
  return [...by].map(([action, apps]) => `${action} of ${apps.join(', ')}`).join('; ');
}

/** The plan as Marathon's deployment_* events carry it. */
export function planJson(d: Deployment): Record<string, unknown> {
  return { id: d.id, version: d.version, steps: d.steps, original: { id: '/', apps: [] }, target: { id: '/', apps: [] } };
}

/** 409: the app is locked by a running deployment; names it and what it waits for. */
export class LockedError extends ConflictError {
  constructor(
    readonly deployment: Deployment,
    readonly waitingFor: string,
  ) {
    super(`App is locked by one or more deployments. Override with the option '?force=true'. Deployment ${deployment.id} (${describeActions(deployment)}) is waiting for ${waitingFor}`);
  }
}
