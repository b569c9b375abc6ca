/**
 * `sextant diag [--json]`: every unit on every node, from the masters' aggregate.
 *   Exit 0 when all are healthy, 1 when any unit or node is unhealthy, 2 on bad usage, 3 when the
 *   master cannot be asked.
 * `sextant diag bundle [-o FILE] [--json]`: one .tar.gz of every node's logs, health and kernel
 *   dumps, the master state and the control-plane view (diag/bundle.ts), with a progress line per
 *   node (a bar on a terminal). Exit 0 once written, 3 when it could not be.
 * Both take the cluster options of every command (--master, or --url/--ca of an entry point,
 * --cert/--key; common/cli-command.ts) and ask through common/cli-client.ts.
 * `sextant node ls` (master/node-cli.ts) shows each agent's health summary from the same report.
 */
import { Command, CommanderError } from 'commander';
import { ClusterConfigError, type ClusterOptions } from '../common/cli-client.js';
import { clientFrom, clusterOptions } from '../common/cli-command.js';
import { stdio, type CliIo } from '../common/endpoint.js';
import { progressFor, writeBundle } from './bundle.js';
import { nodesOfReport, unitTable } from './report.js';

export const EXIT = { ok: 0, unhealthy: 1, usage: 2, api: 3 } as const;

type Common = ClusterOptions & { json?: boolean };

export interface DiagIo extends CliIo {
  /** Is stderr a terminal (progress bar) or not (plain lines)? */
  tty: boolean;
}

async function showUnits(o: Common, io: DiagIo): Promise<number> {
  const nodes = nodesOfReport(await clientFrom(o).request('root', '/system/health/v1/report', { timeoutMs: 60_000 }));
  const bad = nodes.flatMap((n) => (n.error ? [`${n.ip} (${n.error})`] : n.units.filter((u) => u.health === 0).map((u) => `${u.id} on ${n.ip}`)));
  if (o.json) io.out(`${JSON.stringify({ healthy: bad.length === 0, nodes }, null, 2)}\n`);
  else {
    io.out(unitTable(nodes));
    const units = nodes.reduce((s, n) => s + n.units.length, 0);
    io.out(`${nodes.length} node(s), ${units} unit(s): ${bad.length ? `${bad.length} unhealthy: ${bad.join(', ')}` : 'all healthy'}\n`);
  }
  return bad.length ? EXIT.unhealthy : EXIT.ok;
}

async function bundle(o: Common & { output?: string }, io: DiagIo): Promise<number> {
  const r = await writeBundle(clientFrom(o), o.output, progressFor(io.tty && !o.json, io.err));
  if (o.json) io.out(`${JSON.stringify(r, null, 2)}\n`);
  else {
    io.out(`wrote ${r.file} (${r.bytes} bytes, ${r.nodes.length} node(s))\n`);
    for (const n of r.nodes) for (const e of n.errors) io.err(`sextant diag bundle: ${n.ip}: ${e}\n`);
  }
  return EXIT.ok;
}

function program(io: DiagIo, done: (p: Promise<number>) => void): Command {
  const root = clusterOptions(new Command('sextant diag'), { marathon: false })
    .description('health of every unit on every node (DC/OS 3DT), from the masters')
    .option('--json', 'print JSON')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .addHelpText('after', '\nExit 0 when every unit is healthy, 1 when any unit or node is not, 2 on bad usage, 3 when the master cannot be asked.')
    .action((o: Common) => done(showUnits(o, io)));
  clusterOptions(root.command('bundle'), { marathon: false })
    .description("write one .tar.gz with every node's logs, health and kernel dumps, the master state and the control-plane view")
    .option('-o, --output <file>', 'the archive to write (default ./sextant-diag-<time>.tar.gz)')
    .option('--json', 'print what was written as JSON')
    .action((o: Common & { output?: string }, cmd: Command) => done(bundle({ ...cmd.parent?.opts<Common>(), ...o }, io)));
  return root;
}

/** Run a commander program: its result, 0 after --help, 2 on bad usage (options included), 3 when the API failed. */
export async function runProgram(make: (done: (p: Promise<number>) => void) => Command, argv: string[], io: CliIo, name: string): Promise<number> {
  // Settled at once so a failure is never an unhandled rejection; the action returns nothing to commander.
  let result: Promise<{ code: number } | { err: Error }> | undefined;
  const p = make((r) => {
    result = r.then(
      (code) => ({ code }),
      (err: Error) => ({ err }),
    );
  });
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (!result) return EXIT.usage;
  const r = await result;
  if ('code' in r) return r.code;
  io.err(`${name}: ${r.err.message}\n`);
  return r.err instanceof ClusterConfigError ? EXIT.usage : EXIT.api;
}

export function main(argv: string[], io: DiagIo = { ...stdio, tty: process.stderr.isTTY === true }): Promise<number> {
  return runProgram((done) => program(io, done), argv, io, 'sextant diag');
}
