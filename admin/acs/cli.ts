/**
 * `sextant auth login|logout|whoami`, `sextant acl grant|revoke|ls`, `sextant user add|ls|rm`: the
 * identity service from the command line (commander). Each takes the cluster options of every
 * command (common/cli-command.ts: `--url URL` of an entry point with `--ca FILE`, or `--master ADDR`;
 * `--cert`/`--key`) and asks `/acs/api/v1` through common/cli-client.ts. The token `auth login` gets
 * is kept where common/cli-token.ts says (directory 0700, file 0600) and sent by every later
 * command. API errors print the API's description and code and exit 1; bad usage exits 2; `--help`
 * exits 0.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { dirname } from 'node:path';
import { Command, CommanderError } from 'commander';
import { SignJWT } from 'jose';
import { ApiError, ClusterClient, ClusterConfigError, configDir, loadToken, stdio, tokenPath, type CliIo, type ClusterOptions, type RequestOptions } from '../../common/index.js';
import { clusterOptions, UsageError } from '../../common/cli-command.js';

type Conn = ClusterOptions;

const withConn = (c: Command): Command => clusterOptions(c, { marathon: false });

/** The identity service of the cluster `o` names: its base URL, and a call to `/acs/api/v1` there. */
function acs(o: Conn, env: NodeJS.ProcessEnv) {
  const client = new ClusterClient({ url: o.url, ca: o.ca, master: o.master, cert: o.cert, key: o.key }, env);
  return {
    base: client.base('root'),
    call: (method: string, path: string, x: Pick<RequestOptions, 'body' | 'anonymous'> = {}) => client.request('root', `/acs/api/v1${path}`, { method, timeoutMs: 15_000, ...x }),
  };
}

/** The API's own words: DC/OS IAM's `{description, code}`, else what the client read, and the status. */
function acsMessage(e: ApiError): string {
  const b = e.body as { description?: unknown; code?: unknown } | undefined;
  const text = b && typeof b === 'object' && typeof b.description === 'string' ? `${b.description}${typeof b.code === 'string' ? ` (${b.code})` : ''}` : e.message;
  return `${text} [HTTP ${e.status}]`;
}

function program(name: string, io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command(name)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .showHelpAfterError()
    .allowExcessArguments(false)
    .helpOption('-h, --help', 'show this help');
}

/** Read a secret: from the named environment variable, else a prompt without echo on a terminal. */
async function secret(what: string, envVar: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  if (envVar !== undefined) {
    const v = env[envVar];
    if (!v) throw new UsageError(`${what}: the environment variable ${envVar} is empty or unset`);
    return v;
  }
  if (!process.stdin.isTTY) throw new UsageError(`${what}: give --password-env VAR (no terminal to prompt on)`);
  return promptHidden(`${what}: `);
}

function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  let s = '';
  return new Promise((resolve, reject) => {
    const finish = () => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
    };
    const onData = (chunk: string) => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n') return finish(), resolve(s);
        if (c === '\u0003' || c === '\u0004') return finish(), reject(new UsageError('cancelled'));
        s = c === '\u007f' || c === '\b' ? s.slice(0, -1) : s + c;
      }
    };
    stdin.on('data', onData);
  });
}

/** Keep the token: directory 0700, file 0600, written whole (temp file, then rename). */
function saveToken(token: string, env: NodeJS.ProcessEnv): string {
  const path = tokenPath(env);
  mkdirSync(configDir(env), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  return path;
}

/** A service account's login JWT: `uid` and a 5-minute `exp`, RS256 with its private key. */
async function loginToken(uid: string, keyFile: string): Promise<string> {
  let key;
  try {
    key = createPrivateKey(readFileSync(keyFile));
  } catch (e) {
    throw new UsageError(`--private-key ${keyFile}: not a readable PEM private key: ${(e as Error).message}`);
  }
  return new SignJWT({ uid }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime('5m').sign(key);
}

const enc = encodeURIComponent;

interface Run {
  io: CliIo;
  env: NodeJS.ProcessEnv;
}

function authProgram({ io, env }: Run): Command {
  const p = program('sextant auth', io, env).description('log in to the cluster, log out, show who you are');
  withConn(p.command('login'))
    .description('log in with a password (prompted, or from --password-env) or a service account key; keeps the token')
    .option('--username <UID>', 'the account (default $SEXTANT_USER)')
    .option('--password-env <VAR>', 'read the password from this environment variable')
    .option('--private-key <FILE>', "a service account's RSA private key (PEM): log in with a login JWT signed by it")
    .action(async (o: Conn & { username?: string; passwordEnv?: string; privateKey?: string }) => {
      const uid = o.username ?? env.SEXTANT_USER;
      if (!uid) throw new UsageError('--username UID is required');
      const target = acs(o, env);
      const body = o.privateKey ? { uid, token: await loginToken(uid, o.privateKey) } : { uid, password: await secret(`password for ${uid}`, o.passwordEnv, env) };
      const r = (await target.call('POST', '/auth/login', { body, anonymous: true })) as { token?: unknown };
      if (typeof r?.token !== 'string') throw new Error(`${target.base} answered the login without a token`);
      const path = saveToken(r.token, env);
      io.out(`logged in as ${uid} at ${target.base} (token kept in ${path})\n`);
      if (env.SEXTANT_TOKEN) io.err('note: SEXTANT_TOKEN is set and is sent instead of the kept token\n');
    });
  p.command('logout')
    .description('forget the kept token')
    .action(() => {
      const path = tokenPath(env);
      rmSync(path, { force: true });
      io.out(`logged out (removed ${path})\n`);
      if (env.SEXTANT_TOKEN) io.err('note: SEXTANT_TOKEN is still set in this environment\n');
    });
  withConn(p.command('whoami'))
    .description('who the kept token speaks for, and their permissions')
    .option('--json', 'print the answer as JSON')
    .action(async (o: Conn & { json?: boolean }) => {
      if (!loadToken(env)) throw new UsageError('not logged in: run `sextant auth login` (or set SEXTANT_TOKEN)');
      const r = (await acs(o, env).call('GET', '/auth/whoami')) as { uid: string; kind: string; superuser: boolean; permissions: { rid: string; actions: string[] }[] };
      if (o.json) return io.out(`${JSON.stringify(r, null, 2)}\n`);
      io.out(`${r.uid} (${r.kind === 'service' ? 'service account' : 'user'}${r.superuser ? ', superuser' : ''})\n`);
      for (const g of r.permissions) io.out(`  ${g.rid} ${g.actions.join(',')}\n`);
    });
  return p;
}

function aclProgram({ io, env }: Run): Command {
  const p = program('sextant acl', io, env).description('permissions: grant, revoke and list actions (full, read, update, delete) on resources');
  for (const [verb, method, what] of [['grant', 'PUT', 'granted'], ['revoke', 'DELETE', 'revoked']] as const) {
    withConn(p.command(`${verb} <UID> <RESOURCE> <ACTION>`))
      .description(`${verb} ACTION (full|read|update|delete) on RESOURCE (e.g. dcos:service:marathon:marathon:services:/prod) ${verb === 'grant' ? 'to' : 'from'} UID`)
      .action(async (uid: string, rid: string, action: string, o: Conn) => {
        await acs(o, env).call(method, `/acls/${enc(rid)}/users/${enc(uid)}/${enc(action)}`);
        io.out(`${what} ${rid} ${action} ${verb === 'grant' ? 'to' : 'from'} ${uid}\n`);
      });
  }
  withConn(p.command('ls [UID]'))
    .description("list grants: every resource's, or one account's")
    .option('--json', 'print rows as JSON')
    .action(async (uid: string | undefined, o: Conn & { json?: boolean }) => {
      const target = acs(o, env);
      const rows: { rid: string; uid: string; actions: string[] }[] = [];
      if (uid) {
        const r = (await target.call('GET', `/users/${enc(uid)}/permissions`)) as { direct: { rid: string; actions: { name: string }[] }[] };
        for (const d of r.direct) rows.push({ rid: d.rid, uid, actions: d.actions.map((a) => a.name) });
      } else {
        const acls = (await target.call('GET', '/acls')) as { array: { rid: string }[] };
        for (const a of acls.array) {
          const perms = (await target.call('GET', `/acls/${enc(a.rid)}/permissions`)) as { users: { uid: string; actions: { name: string }[] }[] };
          for (const u of perms.users) rows.push({ rid: a.rid, uid: u.uid, actions: u.actions.map((x) => x.name) });
        }
      }
      if (o.json) return io.out(`${JSON.stringify(rows, null, 2)}\n`);
      io.out(table(['RESOURCE', 'UID', 'ACTIONS'], rows.map((r) => [r.rid, r.uid, r.actions.join(',')])));
    });
  return p;
}

function userProgram({ io, env }: Run): Command {
  const p = program('sextant user', io, env).description('accounts: users (password) and service accounts (RSA public key)');
  withConn(p.command('add <UID>'))
    .description('create a user (password prompted or from --password-env) or, with --public-key, a service account')
    .option('--description <TEXT>', 'what the account is for', '')
    .option('--password-env <VAR>', 'read the password from this environment variable')
    .option('--public-key <FILE>', 'a service account: its RSA public key (PEM)')
    .action(async (uid: string, o: Conn & { description: string; passwordEnv?: string; publicKey?: string }) => {
      let body: Record<string, string>;
      if (o.publicKey) {
        try {
          body = { public_key: readFileSync(o.publicKey, 'utf8'), description: o.description };
        } catch (e) {
          throw new UsageError(`--public-key ${o.publicKey}: ${(e as Error).message}`);
        }
      } else body = { password: await secret(`password for ${uid}`, o.passwordEnv, env), description: o.description };
      await acs(o, env).call('PUT', `/users/${enc(uid)}`, { body });
      io.out(`created ${o.publicKey ? 'service account' : 'user'} ${uid}\n`);
    });
  withConn(p.command('ls'))
    .description('list accounts')
    .option('--json', 'print the accounts as JSON')
    .action(async (o: Conn & { json?: boolean }) => {
      const r = (await acs(o, env).call('GET', '/users')) as { array: { uid: string; is_service: boolean; description: string }[] };
      if (o.json) return io.out(`${JSON.stringify(r.array, null, 2)}\n`);
      io.out(table(['UID', 'KIND', 'DESCRIPTION'], r.array.map((u) => [u.uid, u.is_service ? 'service' : 'user', u.description])));
    });
  withConn(p.command('rm <UID>'))
    .description('delete an account and its grants')
    .action(async (uid: string, o: Conn) => {
      await acs(o, env).call('DELETE', `/users/${enc(uid)}`);
      io.out(`deleted ${uid}\n`);
    });
  return p;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

async function run(make: (r: Run) => Command, argv: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const p = make({ io, env });
  if (argv.length === 0) {
    io.err(p.helpInformation());
    return 2;
  }
  try {
    await p.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2;
    const prefix = p.name();
    if (e instanceof UsageError || e instanceof ClusterConfigError) {
      io.err(`${prefix}: ${e.message}\n`);
      return 2;
    }
    io.err(`${prefix}: ${e instanceof ApiError ? acsMessage(e) : (e as Error).message}\n`);
    return 1;
  }
}

export const authMain = (argv: string[], io: CliIo = stdio, env: NodeJS.ProcessEnv = process.env) => run(authProgram, argv, io, env);
export const aclMain = (argv: string[], io: CliIo = stdio, env: NodeJS.ProcessEnv = process.env) => run(aclProgram, argv, io, env);
export const userMain = (argv: string[], io: CliIo = stdio, env: NodeJS.ProcessEnv = process.env) => run(userProgram, argv, io, env);
