/**
 * `sextant diag bundle`: one .tar.gz with what a bug report needs, collected through the master
 * (agents may sit in namespaces only the master reaches):
 *
 *   sextant-diag-<time>/cluster/health-report.json   /system/health/v1/report
 *   sextant-diag-<time>/cluster/master-state.json    /master/state
 *   sextant-diag-<time>/cluster/control-agents.json  /v1/control/agents (the control-plane view)
 *   sextant-diag-<time>/nodes/<ip>-<role>/health.json      that node's units
 *   sextant-diag-<time>/nodes/<ip>-<role>/logs/<name>      each log file it serves
 *   sextant-diag-<time>/nodes/<ip>-<role>/dumps/<name>.txt nft, ipvsadm, ip link/route/neigh, bridge fdb
 *   sextant-diag-<time>/nodes/<ip>-<role>/errors.txt       what could not be collected (if anything)
 *
 * A node that cannot be reached gets its errors.txt and the bundle goes on. The archive is made by
 * the system's tar from a staging dir that is removed afterwards.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { run } from '../common/proc.js';
import type { ClusterClient } from '../common/cli-client.js';
import { nodesOfReport, type ReportNode } from './report.js';
import type { Dump } from './dumps.js';

export interface BundleResult {
  file: string;
  bytes: number;
  nodes: { ip: string; role: string; logs: number; dumps: number; errors: string[] }[];
}

export interface BundleProgress {
  start(total: number): void;
  node(n: ReportNode, done: number, summary: string): void;
  stop(): void;
}

/** A bar on a terminal, one plain line per node otherwise (both on stderr). */
export function progressFor(tty: boolean, err: (s: string) => void): BundleProgress {
  if (!tty) {
    return {
      start: (total) => err(`bundle: collecting from ${total} node(s)\n`),
      node: (n, done, summary) => err(`bundle: node ${done} ${n.ip} (${n.role}): ${summary}\n`),
      stop: () => {},
    };
  }
  const bar = new SingleBar({ format: 'bundle [{bar}] {value}/{total} nodes | {node}', stream: process.stderr, hideCursor: true, clearOnComplete: false });
  return {
    start: (total) => bar.start(total, 0, { node: '' }),
    node: (n, done, summary) => bar.update(done, { node: `${n.ip} (${n.role}): ${summary}` }),
    stop: () => bar.stop(),
  };
}

export function defaultBundleName(now = new Date()): string {
  return `sextant-diag-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/** A log name from a node as a relative path inside the bundle: no `..`, no absolute parts. */
export function safeRelative(name: string): string {
  return name
    .split('/')
    .filter((s) => s && s !== '.' && s !== '..')
    .map((s) => s.replace(/[^A-Za-z0-9._@+-]/g, '_'))
    .join('/') || 'unnamed';
}

async function put(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** A JSON answer of the master (30 s unless said), or, with `text`, the body as written. */
const fetcher = (client: ClusterClient) => ({
  json: <T>(path: string, timeoutMs = 30_000) => client.request<T>('root', path, { timeoutMs }),
  text: (api: 'root' | 'mesos' | 'net', path: string, timeoutMs = 30_000) => client.request<string>(api, path, { timeoutMs, text: true }),
});

async function collectNode(get: ReturnType<typeof fetcher>, n: ReportNode, dir: string) {
  const errors: string[] = [];
  const base = `/system/diag/v1/nodes/${encodeURIComponent(n.ip)}`;
  await put(join(dir, 'health.json'), json(n));
  let logs = 0;
  try {
    const list = await get.json<{ files: { name: string }[] }>(`${base}/logs`);
    for (const f of list.files) {
      try {
        const text = await get.text('root', `${base}/logs/${f.name.split('/').map(encodeURIComponent).join('/')}`, 60_000);
        await put(join(dir, 'logs', safeRelative(f.name)), text);
        logs++;
      } catch (e) {
        errors.push(`log ${f.name}: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    errors.push(`logs: ${(e as Error).message}`);
  }
  let dumps = 0;
  try {
    const d = await get.json<{ dumps: Dump[] }>(`${base}/dumps`, 60_000);
    for (const x of d.dumps) {
      const head = `# ${x.command}\n# exit ${x.exit_code}${x.error ? `; ${x.error}` : ''}\n`;
      await put(join(dir, 'dumps', `${safeRelative(x.name)}.txt`), `${head}${x.output}`);
      dumps++;
    }
  } catch (e) {
    errors.push(`dumps: ${(e as Error).message}`);
  }
  if (errors.length) await put(join(dir, 'errors.txt'), `${errors.join('\n')}\n`);
  return { ip: n.ip, role: n.role, logs, dumps, errors };
}

export async function writeBundle(client: ClusterClient, out: string | undefined, progress: BundleProgress): Promise<BundleResult> {
  const get = fetcher(client);
  const name = defaultBundleName();
  const file = resolve(out ?? `${name}.tar.gz`);
  const stage = await mkdtemp(join(tmpdir(), 'sextant-diag-'));
  try {
    const root = join(stage, name);
    const report = await get.json<unknown>('/system/health/v1/report', 60_000);
    await put(join(root, 'cluster', 'health-report.json'), json(report));
    for (const [file, api, path] of [['master-state.json', 'mesos', '/master/state'], ['control-agents.json', 'net', '/v1/control/agents']] as const) {
      try {
        await put(join(root, 'cluster', file), await get.text(api, path));
      } catch (e) {
        await put(join(root, 'cluster', `${file}.error.txt`), `${(e as Error).message}\n`);
      }
    }
    const nodes = nodesOfReport(report);
    progress.start(nodes.length);
    const results: BundleResult['nodes'] = [];
    try {
      for (const n of nodes) {
        const r = await collectNode(get, n, join(root, 'nodes', `${safeRelative(n.ip)}-${n.role}`));
        results.push(r);
        progress.node(n, results.length, `${r.logs} log(s), ${r.dumps} dump(s)${r.errors.length ? `, ${r.errors.length} error(s)` : ''}`);
      }
    } finally {
      progress.stop();
    }
    await mkdir(dirname(file), { recursive: true });
    await run(['tar', '-czf', file, '-C', stage, name], { timeoutMs: 120_000 });
    return { file, bytes: (await stat(file)).size, nodes: results };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
