/**
 * The example app of `sextant up` (/hello, two instances behind a VIP). `up` deletes it on exit
 * only when this run created it: the master answered 201 to this run's POST, the app still has
 * the config version that answer carried, the master this run started is still alive, and the
 * Marathon port is held by a process this run started. So a failed or second `up` never removes
 * another cluster's app.
 */
import { URL } from 'node:url';
import { upRequest as requestJson } from './up-tls.js';
import { describeHolders, portHolders } from './port-holders.js';

export const EXAMPLE_ID = '/hello';

export interface MarathonTask {
  id: string;
  host: string;
  ports: number[];
  state?: string;
  /** The task's addresses (on a virtual network: its IPv4 and, dual-stack, its IPv6 address). */
  ipAddresses?: { ipAddress: string; protocol: string }[];
}

/** The container port of the dual-stack example (`sextant up --ipv6`): tasks on network dcos listen there on `::`. */
export const EXAMPLE_CONTAINER_PORT = 8080;

/** What the master answered when this run created the app. */
export interface OwnedApp {
  id: string;
  marathon: string;
  /** versionInfo.lastConfigChangeAt of the created app (scaling keeps it). */
  configVersion: string;
  deploymentId?: string;
}

function exampleApp(dualStack: boolean): Record<string, unknown> {
  if (dualStack) {
    // On network dcos (dual-stack with --ipv6): its own namespace, an IPv4 and an IPv6 address,
    // listening on both (`::`), behind the same VIP.
    const js6 = `require("http").createServer((q,r)=>r.end("hello from "+process.env.MESOS_TASK_ID+"\\n")).listen(+process.env.PORT0,"::")`;
    return {
      id: EXAMPLE_ID,
      cmd: `exec '${process.execPath}' -e '${js6}'`,
      instances: 2,
      cpus: 0.1,
      mem: 64,
      networks: [{ mode: 'container', name: 'dcos' }],
      // Spread over the agents, so the two instances talk across the overlay (v4 and v6).
      constraints: [['hostname', 'GROUP_BY']],
      container: { type: 'MESOS', portMappings: [{ containerPort: EXAMPLE_CONTAINER_PORT, protocol: 'tcp', name: 'http', labels: { VIP_0: '/hello:80' } }] },
    };
  }
  const js = `require("http").createServer((q,r)=>r.end("hello from "+process.env.MESOS_TASK_ID+"\\n")).listen(+process.env.PORT0,process.env.HOST)`;
  return {
    id: EXAMPLE_ID,
    cmd: `exec '${process.execPath}' -e '${js}'`,
    instances: 2,
    cpus: 0.1,
    mem: 64,
    portDefinitions: [{ port: 0, protocol: 'tcp', name: 'http', labels: { VIP_0: '/hello:80' } }],
    healthChecks: [{ protocol: 'HTTP', path: '/', portIndex: 0, intervalSeconds: 2, timeoutSeconds: 2, gracePeriodSeconds: 10, maxConsecutiveFailures: 3 }],
  };
}

interface AppBody {
  version?: string;
  versionInfo?: { lastConfigChangeAt?: string };
  deployments?: { id?: string }[];
}

const configVersionOf = (b: AppBody | undefined) => b?.versionInfo?.lastConfigChangeAt ?? b?.version;

/**
 * POST the app and wait for two running tasks. `owned` is set only when this POST created it
 * (201); an app already there (409, e.g. left in the master's store by a crashed run on the same
 * work dir) is used but never deleted.
 */
export async function deployExample(marathon: string, say: (s: string) => void, dualStack = false): Promise<{ tasks: MarathonTask[]; owned?: OwnedApp }> {
  const res = await requestJson(`${marathon}/v2/apps`, { body: exampleApp(dualStack) });
  if (res.status !== 201 && res.status !== 409) throw new Error(`POST /v2/apps answered ${res.status}: ${JSON.stringify(res.body)}`);
  const body = res.body as AppBody | undefined;
  const cv = configVersionOf(body);
  const owned = res.status === 201 && cv ? { id: EXAMPLE_ID, marathon, configVersion: cv, deploymentId: body?.deployments?.[0]?.id } : undefined;
  if (res.status === 409) say(`(${EXAMPLE_ID} was already in this master's store; it is not this run's and is left in place on exit) `);
  const end = Date.now() + 60_000;
  let last = -1;
  for (;;) {
    const r = await requestJson(`${marathon}/v2/apps${EXAMPLE_ID}/tasks`).catch(() => undefined);
    const tasks = ((r?.body as { tasks?: MarathonTask[] })?.tasks ?? []).filter((t) => (t.state ?? 'TASK_RUNNING') === 'TASK_RUNNING');
    if (tasks.length !== last) process.stdout.write(`${tasks.length}/2 running `);
    last = tasks.length;
    if (tasks.length >= 2) return { tasks, owned };
    if (Date.now() > end) throw Object.assign(new Error('example app not running after 60 s'), { owned });
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface DeleteGuard {
  /** The master this run started has not exited. */
  masterAlive(): boolean;
  /** Pids of processes this run started (or this process) that may hold the Marathon port. */
  ourPids(): number[];
}

/** Delete the example app if, and only if, this run created it at a master it still runs. */
export async function deleteOwnedExample(app: OwnedApp | undefined, guard: DeleteGuard, say: (s: string) => void): Promise<void> {
  if (!app) return;
  if (!guard.masterAlive()) return say(`leaving ${app.id}: the master this run started is gone`);
  const u = new URL(app.marathon);
  const holders = portHolders('tcp', u.hostname.replace(/^\[|\]$/g, ''), Number(u.port));
  const ours = new Set(guard.ourPids());
  if (!holders.some((h) => ours.has(h.pid))) return say(`leaving ${app.id}: ${u.host} is held by ${describeHolders(holders)}, not by a process this run started`);
  const cur = await requestJson(`${app.marathon}/v2/apps${app.id}`, { timeoutMs: 3000 }).catch(() => undefined);
  if (cur?.status !== 200) return;
  const cv = configVersionOf((cur.body as { app?: AppBody })?.app);
  if (cv !== app.configVersion) return say(`leaving ${app.id}: its config changed since this run created it (version ${cv}, was ${app.configVersion})`);
  await requestJson(`${app.marathon}/v2/apps${app.id}?force=true`, { method: 'DELETE', timeoutMs: 3000 }).catch(() => undefined);
}
