/**
 * `sextant app add|ls|show|scale|restart|rm`: Marathon apps, as `dcos marathon app ...` did.
 * Commands that start a deployment wait for it (a progress bar on a terminal, a line per change
 * otherwise) unless `--no-wait`; `--json` prints the API's JSON and nothing else on stdout.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CLUSTER_HELP, clientFrom, clusterOptions, runProgram, UsageError } from '../common/cli-command.js';
import type { ClusterClient, ClusterOptions } from '../common/cli-client.js';
import { processTerm, progress, type Term } from '../common/cli-output.js';
import { appPath, waitDeployment } from './app-wait.js';
import { appDetails, appsTable, type MarathonApp } from './marathon-views.js';

interface Common extends ClusterOptions {
  json?: boolean;
}
interface Waiting extends Common {
  wait: boolean;
  timeout: number;
  force?: boolean;
}

function nonNegativeInt(v: string): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvalidArgumentError('a whole number >= 0');
  return Number(v);
}

/** Read an app definition from FILE or stdin (`-`): a JSON object, or a UsageError naming what is wrong. */
export function readAppDefinition(file: string, stdin: () => string = () => readFileSync(0, 'utf8')): Record<string, unknown> {
  let text: string;
  try {
    text = file === '-' ? stdin() : readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const where = file === '-' ? 'stdin' : file;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${where} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${where} must hold one app definition (a JSON object)`);
  return v as Record<string, unknown>;
}

const waitOptions = (cmd: Command, force: boolean) => {
  cmd.option('--json', 'print the JSON of the result (the app once the deployment is done; with --no-wait, what the API answered)');
  cmd.option('--no-wait', 'return as soon as the API accepted the change');
  cmd.addOption(new Option('--timeout <seconds>', 'how long to wait for the deployment').default(300).argParser((v) => nonNegativeInt(v)));
  if (force) cmd.option('--force', "override a deployment in progress (Marathon's ?force=true)");
  return clusterOptions(cmd);
};

/** Wait for the deployment (unless --no-wait) and print the outcome. */
async function follow(term: Term, client: ClusterClient, o: Waiting, what: { appId: string; deploymentId: string; removing?: boolean; answer: unknown; title: string }): Promise<number> {
  const since = new Date().toISOString();
  if (!o.wait) {
    term.out(o.json ? `${JSON.stringify(what.answer, null, 2)}\n` : `${what.title}: deployment ${what.deploymentId} started\n`);
    return 0;
  }
  if (!o.json) term.err(`${what.title}: waiting for deployment ${what.deploymentId}\n`);
  const bar = o.json ? undefined : progress(term, what.appId);
  try {
    const app = await waitDeployment(client, { appId: what.appId, deploymentId: what.deploymentId, removing: what.removing, timeoutMs: o.timeout * 1000, since, ...(bar ? { progress: bar } : {}) });
    bar?.stop();
    if (o.json) term.out(`${JSON.stringify(app ?? { id: what.appId, removed: true }, null, 2)}\n`);
    else if (!app) term.out(`${what.appId}: removed (deployment ${what.deploymentId} done)\n`);
    else term.out(`${app.id}: ${app.tasksRunning ?? 0}/${app.instances} running${app.healthChecks?.length ? `, ${app.tasksHealthy ?? 0} healthy` : ''} (deployment ${what.deploymentId} done)\n`);
    return 0;
  } finally {
    bar?.stop();
  }
}

function idOf(id: string): string {
  const t = id.trim();
  if (!t || !/^\/?[a-z0-9][a-z0-9._/-]*$/i.test(t)) throw new UsageError(`${JSON.stringify(id)} is not an app id`);
  return t.startsWith('/') ? t : `/${t}`;
}

function define(root: Command, run: (p: string, fn: () => Promise<number>) => Promise<void>, term: Term, stdin?: () => string): void {
  root.description('Marathon apps: deploy, list, inspect, scale, restart, remove').addHelpText('after', CLUSTER_HELP);

  waitOptions(root.command('add').description('deploy an app from a Marathon app definition (JSON) in FILE, or on stdin with -').argument('<file>', 'FILE or -'), false).action((file: string, o: Waiting) =>
    run('sextant app add', async () => {
      const def = readAppDefinition(file, stdin);
      const client = clientFrom(o);
      const r = await client.request<MarathonApp & { deployments: { id: string }[] }>('marathon', '/v2/apps', { method: 'POST', body: def });
      return follow(term, client, o, { appId: r.id, deploymentId: r.deployments[0]?.id ?? '', answer: r, title: `created ${r.id}` });
    }),
  );

  clusterOptions(root.command('ls').description('list the apps with their task counts').option('--json', 'print the apps as JSON')).action((o: Common) =>
    run('sextant app ls', async () => {
      const { apps } = await clientFrom(o).request<{ apps: MarathonApp[] }>('marathon', '/v2/apps');
      term.out(o.json ? `${JSON.stringify(apps, null, 2)}\n` : apps.length ? appsTable(term, apps) : 'no apps\n');
      return 0;
    }),
  );

  clusterOptions(root.command('show').description('an app: definition, counts, deployments, last failure, tasks').argument('<id>', 'app id, e.g. /hello').option('--json', 'print the app as JSON')).action((id: string, o: Common) =>
    run('sextant app show', async () => {
      const { app } = await clientFrom(o).request<{ app: MarathonApp }>('marathon', appPath(idOf(id)));
      term.out(o.json ? `${JSON.stringify(app, null, 2)}\n` : appDetails(term, app));
      return 0;
    }),
  );

  waitOptions(root.command('scale').description('change the number of instances').argument('<id>', 'app id').argument('<instances>', 'how many', nonNegativeInt), true).action((id: string, n: number, o: Waiting) =>
    run('sextant app scale', async () => {
      const client = clientFrom(o);
      const appId = idOf(id);
      // Marathon's PUT would create a missing app: scaling one that does not exist is an error instead.
      await client.request('marathon', appPath(appId));
      const r = await client.request<{ deploymentId: string }>('marathon', appPath(appId), { method: 'PUT', body: { instances: n }, query: { force: o.force || undefined } });
      return follow(term, client, o, { appId, deploymentId: r.deploymentId, answer: r, title: `scaling ${appId} to ${n}` });
    }),
  );

  waitOptions(root.command('restart').description('replace every task of an app with a new one').argument('<id>', 'app id'), true).action((id: string, o: Waiting) =>
    run('sextant app restart', async () => {
      const client = clientFrom(o);
      const appId = idOf(id);
      const r = await client.request<{ deploymentId: string }>('marathon', `${appPath(appId)}/restart`, { method: 'POST', query: { force: o.force || undefined } });
      return follow(term, client, o, { appId, deploymentId: r.deploymentId, answer: r, title: `restarting ${appId}` });
    }),
  );

  waitOptions(root.command('rm').description('remove an app and kill its tasks').argument('<id>', 'app id'), true).action((id: string, o: Waiting) =>
    run('sextant app rm', async () => {
      const client = clientFrom(o);
      const appId = idOf(id);
      const r = await client.request<{ deploymentId: string }>('marathon', appPath(appId), { method: 'DELETE', query: { force: o.force || undefined } });
      return follow(term, client, o, { appId, deploymentId: r.deploymentId, removing: true, answer: r, title: `removing ${appId}` });
    }),
  );
}

export async function main(argv: string[], term: Term = processTerm(), stdin?: () => string): Promise<number> {
  return runProgram(argv, term, 'sextant app', (root, run) => define(root, run, term, stdin));
}
