/**
 * What every cluster command of the CLI shares: the options that say where the cluster is
 * (cli-client.ts reads them), and one way to run a commander program and turn its outcome into
 * an exit code: 0 done, 1 the cluster refused or could not be reached (its message on stderr),
 * 2 bad usage or bad input (nothing was sent).
 */
import { parseArgs } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import { ApiError, ClusterClient, ClusterConfigError, UnreachableError, type ClusterOptions } from './cli-client.js';
import type { Term } from './cli-output.js';

/** Bad input found before anything was sent (exit 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The request was sent and did not do what was asked (exit 1); the message says what happened. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

export const CLUSTER_HELP = `
Where the cluster is: --url (or SEXTANT_URL) names an entry point (https; CA from --ca or SEXTANT_CA);
otherwise --master (or SEXTANT_MASTER, default 127.0.0.1:5050) and --marathon (or SEXTANT_MARATHON,
default the master's host on :8080). A token from \`sextant auth login\` (or SEXTANT_TOKEN) is sent along.`;

/** Adds --url, --ca, --cert, --key, --master and (unless the command never asks Marathon) --marathon to a command. */
export function clusterOptions(cmd: Command, o: { marathon?: boolean } = {}): Command {
  cmd
    .addOption(new Option('--url <url>', 'the cluster entry point, https://HOST[:PORT] (env SEXTANT_URL)'))
    .addOption(new Option('--ca <file>', "the CA certificate the entry point's certificate is signed by (env SEXTANT_CA)"))
    .addOption(new Option('--cert <file>', 'a client certificate of the cluster CA for component ports under mutual TLS (env SEXTANT_CERT)'))
    .addOption(new Option('--key <file>', 'the key of --cert (env SEXTANT_KEY)'))
    .addOption(new Option('--master <host[:port]>', "the master's Mesos API when there is no --url (env SEXTANT_MASTER; default 127.0.0.1:5050)"));
  return o.marathon === false ? cmd : cmd.addOption(new Option('--marathon <host[:port]>', "Marathon when there is no --url (env SEXTANT_MARATHON; default the master's host, port 8080)"));
}

export function clientFrom(o: ClusterOptions): ClusterClient {
  return new ClusterClient({ url: o.url, ca: o.ca, master: o.master, marathon: o.marathon, cert: o.cert, key: o.key });
}

/** The message and exit code for an error a command threw. */
export function failure(prefix: string, e: unknown): { message: string; code: number } {
  if (e instanceof UsageError || e instanceof ClusterConfigError) return { message: `${prefix}: ${e.message}`, code: 2 };
  if (e instanceof ApiError || e instanceof UnreachableError || e instanceof CommandFailed) return { message: `${prefix}: ${e.message}`, code: 1 };
  throw e;
}

/**
 * Run a commander program: `define` adds the subcommands to `root` (already set to write to
 * `term` and not to exit, which its subcommands inherit), and each action runs its work through
 * `run(prefix, fn)`, which makes the exit code. Help exits 0, a commander usage error 2.
 */
export async function runProgram(
  argv: string[],
  term: Term,
  name: string,
  define: (root: Command, run: (prefix: string, fn: () => Promise<number>) => Promise<void>) => void,
): Promise<number> {
  let code = 0;
  const run = async (prefix: string, fn: () => Promise<number>) => {
    try {
      code = await fn();
    } catch (e) {
      const f = failure(prefix, e);
      term.err(`${f.message}\n`);
      code = f.code;
    }
  };
  const root = new Command(name).exitOverride().configureOutput({ writeOut: term.out, writeErr: term.err });
  define(root, run);
  if (argv.length === 0) {
    term.err(root.helpInformation());
    return 2;
  }
  try {
    await root.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return e.exitCode === 0 ? 0 : 2;
  }
  return code;
}

type ParseOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/**
 * The start of a hand-parsed cluster command (`sextant node`, `sextant network`): parse `argv` with
 * the cluster options (--master, --url, --ca, -h) added, print usage on --help (0) or when no
 * subcommand is given (2), and build the client. Returns the exit code when the command ends here.
 */
export function startClusterCommand<O extends ParseOptions>(
  name: string,
  argv: string[],
  usage: string,
  io: { out(s: string): void; err(s: string): void },
  options: O,
): number | { values: Record<string, string | boolean | undefined>; cmd: string; args: string[]; client: ClusterClient } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { master: { type: 'string' }, url: { type: 'string' }, ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...options } });
  } catch (e) {
    io.err(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const [cmd, ...args] = parsed.positionals;
  if (values.help || !cmd) {
    io.out(usage);
    return values.help ? 0 : 2;
  }
  try {
    const client = new ClusterClient({ master: values.master as string | undefined, url: values.url as string | undefined, ca: values.ca as string | undefined, cert: values.cert as string | undefined, key: values.key as string | undefined });
    return { values, cmd, args, client };
  } catch (e) {
    if (!(e instanceof ClusterConfigError)) throw e;
    io.err(`sextant ${name}: ${e.message}\n`);
    return 2;
  }
}
