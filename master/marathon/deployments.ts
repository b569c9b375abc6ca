/**
 * Marathon deployments: one per app change (start, scale, restart, stop), listed while in
 * progress and finished when the app's tasks have converged to the target.
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

export function newDeployment(appId: string, action: DeploymentAction, version: string): Deployment {
  return {
    id: randomUUID(),
    version,
    affectedApps: [appId],
    affectedPods: [],
    steps: [{ actions: [{ action, app: appId }] }],
    currentActions: [{ action, app: appId, readinessCheckResults: [] }],
    currentStep: 1,
    totalSteps: 1,
  };
}

export function deploymentAction(d: Deployment): DeploymentAction {
  return d.steps[0]!.actions[0]!.action;
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
    super(`App is locked by one or more deployments. Override with the option '?force=true'. Deployment ${deployment.id} (${deploymentAction(deployment)} of ${deployment.affectedApps.join(', ')}) is waiting for ${waitingFor}`);
  }
}
