/**
 * The "what next" part of `sextant up`'s summary: the CLI commands that work against the cluster
 * it just started, written the way they run on this machine (`sextant` when that name on PATH is
 * this very executable, otherwise `node <path to sextant.js>`), with the environment they need
 * when the cluster is not on the CLI's default addresses.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join, relative } from 'node:path';

export interface NextInput {
  /** The executable this `up` runs as (dist/cli/sextant.js). */
  entry: string;
  masterUrl: string;
  marathonUrl: string;
  exampleId?: string;
  /** A task id of the example, to show `task log` with. */
  exampleTask?: string;
  /** Agent APIs are in namespaces: `task log` cannot reach them from here. */
  netns: boolean;
  /** Mutual TLS: the CA and the operator's client certificate the commands present (SEXTANT_CA/CERT/KEY). */
  tls?: { ca: string; cert: string; key: string };
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
};

/** How to run the CLI on this machine: `sextant` if PATH finds this executable under that name. */
export function cliCommand(entry: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const me = real(entry);
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const cand = join(dir, 'sextant');
    try {
      accessSync(cand, constants.X_OK);
    } catch {
      continue;
    }
    if (me && real(cand) === me) return 'sextant';
  }
  const rel = relative(cwd, entry);
  return `node ${rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : entry}`;
}

const hostPort = (url: string) => new URL(url).host;

/** The lines to print (each already indented), commands padded so their notes line up. */
export function nextSteps(i: NextInput): string[] {
  const env = i.env ?? process.env;
  const cli = cliCommand(i.entry, env, i.cwd);
  const master = hostPort(i.masterUrl);
  const marathon = hostPort(i.marathonUrl);
  const defaults = master === '127.0.0.1:5050' && marathon === '127.0.0.1:8080';
  const rows: [string, string][] = [];
  rows.push([`${cli} app ls`, 'apps with running/healthy counts']);
  if (i.exampleId) {
    rows.push([`${cli} app show ${i.exampleId}`, 'one app: definition, counts, tasks']);
    rows.push([`${cli} task ls ${i.exampleId}`, 'its tasks and where they run']);
    // Under mutual TLS the exported operator certificate reaches the agent too (agents accept the cli identity).
    if (i.exampleTask && !i.netns) rows.push([`${cli} task log ${i.exampleTask} --follow`, "a task's stdout (--stderr for stderr)"]);
    rows.push([`${cli} app scale ${i.exampleId} 3`, 'more instances, with progress']);
  }
  rows.push([`${cli} app add FILE.json`, 'deploy a Marathon app definition (- reads stdin)']);
  rows.push([`${cli} control status`, "control plane: each agent's applied version"]);
  // VIPs are programmed only where agents have a kernel of their own (--netns).
  if (i.netns) rows.push([`${cli} vip ls`, 'VIPs: connections, failures, success rate (`vip show NAME` for its backends)']);
  const w = Math.max(...rows.map(([c]) => c.length));
  const first = i.tls
    ? [`  export SEXTANT_MASTER=${i.masterUrl} SEXTANT_MARATHON=${i.marathonUrl} SEXTANT_CA=${i.tls.ca} SEXTANT_CERT=${i.tls.cert} SEXTANT_KEY=${i.tls.key}   (where the commands below find this cluster, and the operator certificate its ports ask for)`]
    : defaults ? [] : [`  export SEXTANT_MASTER=${master} SEXTANT_MARATHON=${marathon}   (where the commands below find this cluster)`];
  return [...first, ...rows.map(([c, note]) => `  ${c.padEnd(w)}   ${note}`)];
}
