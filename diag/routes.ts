/**
 * HTTP routes of diagnostics. Every node (agent API, master Mesos API): its units
 * (`GET /system/health/v1`), its log files (read-only, by listed name) and kernel dumps of its own
 * namespace. The masters add the aggregate (`/system/health/v1/report|nodes|units...`, DC/OS
 * shapes) and serve each known node's logs and dumps under `/system/diag/v1/nodes/{ip}/...`, so a
 * CLI that reaches only the master (agents in their own namespaces) can collect a bundle.
 */
import { NotFoundError, UnavailableError } from '../common/errors.js';
import type { Reply, Router } from '../common/http.js';
import type { HealthAggregator, NodeTarget } from './aggregate.js';
import { takeDumps } from './dumps.js';
import { listLogs, readLog, type LogSources } from './logs.js';
import { nodeHealth, type NodeInfo } from './node.js';
import type { HealthRegistry } from './registry.js';
import * as views from './views.js';

export interface NodeDiag {
  registry: HealthRegistry;
  info(): NodeInfo;
  logs: LogSources;
  checkTimeoutMs?: number;
}

const LOGS = '/system/diag/v1/logs';
const DUMPS = '/system/diag/v1/dumps';

async function logsList(logs: LogSources) {
  return { files: [...(await listLogs(logs))].map(([name, f]) => ({ name, size: f.size })) };
}

async function logText(logs: LogSources, name: string): Promise<Reply> {
  const text = await readLog(logs, name);
  if (text === undefined) throw new NotFoundError(`no log file named ${JSON.stringify(name)} on this node (GET ${LOGS} lists them)`);
  return { text, contentType: 'text/plain; charset=utf-8' };
}

export function mountNodeRoutes(router: Router, d: NodeDiag): void {
  router.get('/system/health/v1', async () => ({ json: await nodeHealth(d.registry, d.info(), d.checkTimeoutMs) }), { summary: "this node's units (DC/OS 3DT shape)" });
  router.get(LOGS, async () => ({ json: await logsList(d.logs) }), { summary: "this node's log files (name, size)" });
  router.get(`${LOGS}/*name`, (req) => logText(d.logs, req.params.name!), { summary: 'one log file (its last 8 MiB), by a name from the listing' });
  router.get(DUMPS, async () => ({ json: { ip: d.info().ip, dumps: await takeDumps() } }), { summary: 'kernel state of this node\'s namespace: nft, ipvsadm, ip link/route/neigh, bridge fdb' });
}

export interface MasterDiag extends NodeDiag {
  aggregator: HealthAggregator;
  targets(): NodeTarget[];
  /** GET a JSON body from an agent under mutual TLS (absent: plain fetch). */
  get?(url: string, signal: AbortSignal): Promise<unknown>;
}

async function proxyGet(url: string, timeoutMs: number): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new UnavailableError(`GET ${url} failed: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 404) throw new NotFoundError(`GET ${url}: ${text.slice(0, 300)}`);
  if (res.status !== 200) throw new UnavailableError(`GET ${url} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
  const type = res.headers.get('content-type') ?? '';
  return type.includes('json') ? { json: JSON.parse(text) } : { text, contentType: type || 'text/plain' };
}

/** proxyGet over mutual TLS: a JSON body as JSON, any other body as text. */
async function tlsProxyGet(get: (url: string, signal: AbortSignal) => Promise<unknown>, url: string, timeoutMs: number): Promise<Reply> {
  let body: unknown;
  try {
    body = await get(url, AbortSignal.timeout(timeoutMs));
  } catch (e) {
    const msg = (e as Error).message;
    if (/HTTP 404/.test(msg)) throw new NotFoundError(`GET ${url}: ${msg}`);
    throw new UnavailableError(`GET ${url} failed: ${msg}`);
  }
  return typeof body === 'string' ? { text: body, contentType: 'text/plain' } : { json: body };
}

export function mountMasterRoutes(router: Router, d: MasterDiag): void {
  mountNodeRoutes(router, d);
  const nodes = () => d.aggregator.nodes();
  const H = '/system/health/v1';
  router.get(`${H}/report`, async () => ({ json: views.reportView(await nodes(), new Date()) }), { summary: 'every node and unit (3DT MonitoringResponse)' });
  router.get(`${H}/nodes`, async () => ({ json: views.nodesView(await nodes()) }));
  router.get(`${H}/nodes/:ip`, async (r) => ({ json: views.nodeView(await nodes(), r.params.ip!) }));
  router.get(`${H}/nodes/:ip/units`, async (r) => ({ json: views.nodeUnitsView(await nodes(), r.params.ip!) }));
  router.get(`${H}/nodes/:ip/units/:id`, async (r) => ({ json: views.nodeUnitView(await nodes(), r.params.ip!, r.params.id!) }));
  router.get(`${H}/units`, async () => ({ json: views.unitsView(await nodes()) }));
  router.get(`${H}/units/:id`, async (r) => ({ json: views.unitView(await nodes(), r.params.id!) }));
  router.get(`${H}/units/:id/nodes`, async (r) => ({ json: views.unitNodesView(await nodes(), r.params.id!) }));
  router.get(`${H}/units/:id/nodes/:ip`, async (r) => ({ json: views.unitNodeView(await nodes(), r.params.id!, r.params.ip!) }));

  /** The node's own routes: local for this master, proxied to a known agent, 404 otherwise. */
  const onNode = (ip: string, local: () => Promise<Reply>, path: string, timeoutMs: number): Promise<Reply> => {
    const t = d.targets().find((x) => x.ip === ip);
    if (!t) throw new NotFoundError(`node ${ip} is not this master or an agent it knows`);
    if (t.url === undefined) return local();
    return d.get ? tlsProxyGet(d.get, `${t.url}${path}`, timeoutMs) : proxyGet(`${t.url}${path}`, timeoutMs);
  };
  const N = '/system/diag/v1/nodes/:ip';
  router.get(`${N}/logs`, (r) => onNode(r.params.ip!, async () => ({ json: await logsList(d.logs) }), LOGS, 10_000), { summary: "a node's log files" });
  router.get(`${N}/logs/*name`, (r) => onNode(r.params.ip!, () => logText(d.logs, r.params.name!), `${LOGS}/${r.params.name!.split('/').map(encodeURIComponent).join('/')}`, 60_000), { summary: "one of a node's log files" });
  router.get(`${N}/dumps`, (r) => onNode(r.params.ip!, async () => ({ json: { ip: d.info().ip, dumps: await takeDumps() } }), DUMPS, 30_000), { summary: "a node's kernel dumps" });
}
