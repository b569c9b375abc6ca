/**
 * Waiting for a Marathon deployment the way an operator watches it: poll the app's counts
 * (staged/running/healthy) for the progress line, and the deployment list until the deployment
 * is gone (Marathon drops a deployment when it finished). A removed app is done when Marathon
 * no longer knows it. Bounded by `timeoutMs`; the poll interval is the only pause.
 */
import { ApiError, type ClusterClient } from '../common/cli-client.js';
import { CommandFailed } from '../common/cli-command.js';
import type { Progress, ProgressState } from '../common/cli-output.js';
import type { MarathonApp } from './marathon-views.js';

export interface WaitOptions {
  appId: string;
  deploymentId: string;
  /** The app is being removed: done once it is gone. */
  removing?: boolean;
  timeoutMs: number;
  pollMs?: number;
  progress?: Progress;
  /** Only failures after this (ISO time) are shown. */
  since: string;
}

export function appPath(id: string): string {
  return `/v2/apps/${id.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/')}`;
}

function stateOf(a: MarathonApp | undefined, since: string): ProgressState {
  if (!a) return { total: 0, staged: 0, running: 0, healthy: 0, checked: false };
  const f = a.lastTaskFailure;
  const note = f && f.timestamp && f.timestamp >= since ? `last failure: ${f.state ?? ''} ${f.message ?? ''}`.trim() : undefined;
  return { total: a.instances, staged: a.tasksStaged ?? 0, running: a.tasksRunning ?? 0, healthy: a.tasksHealthy ?? 0, checked: (a.healthChecks?.length ?? 0) > 0, ...(note ? { note } : {}) };
}

async function appOrGone(client: ClusterClient, id: string): Promise<MarathonApp | undefined> {
  try {
    return (await client.request<{ app: MarathonApp }>('marathon', appPath(id))).app;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

/** Resolves with the app as it is when the deployment is done (undefined once removed). */
export async function waitDeployment(client: ClusterClient, o: WaitOptions): Promise<MarathonApp | undefined> {
  const end = Date.now() + o.timeoutMs;
  const pollMs = o.pollMs ?? 500;
  for (;;) {
    const app = await appOrGone(client, o.appId);
    o.progress?.update(stateOf(app, o.since));
    if (o.removing && !app) return undefined;
    const deployments = await client.request<{ id: string }[]>('marathon', '/v2/deployments');
    if (!deployments.some((d) => d.id === o.deploymentId)) return o.removing ? undefined : await appOrGone(client, o.appId);
    if (Date.now() >= end) {
      const s = stateOf(app, o.since);
      throw new CommandFailed(`deployment ${o.deploymentId} of ${o.appId} not done after ${Math.round(o.timeoutMs / 1000)} s (${s.running}/${s.total} running${s.note ? `; ${s.note}` : ''}); it goes on in the cluster`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
