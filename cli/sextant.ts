#!/usr/bin/env node
/**
 * The one executable. Each subcommand lives in its component and exports
 * `main(argv: string[]): Promise<number | void>`; this file only dispatches (the table is data).
 */
const commands: Record<string, { module: string; help: string }> = {
  up: { module: './up.js', help: 'start a local cluster (master + agents + example app) in the foreground' },
  master: { module: './master.js', help: 'run a master (Mesos API :5050, Marathon :8080, control plane :5060)' },
  agent: { module: './agent.js', help: 'run an agent (task runner :5051 and node network services)' },
  'mesos-dns': { module: '../dns/mesos-cli.js', help: 'run Mesos-DNS, drop-in for mesosphere/mesos-dns (-config FILE)' },
  dispatcher: { module: '../dns/dispatcher-cli.js', help: 'run the node DNS dispatcher (--config FILE)' },
  dns: { module: '../dns/query-cli.js', help: 'DNS client: `dns query NAME [--agent IP | --server IP:PORT]` prints the answer and which server gave it' },
  app: { module: './app.js', help: 'Marathon apps: add FILE|-, ls, show ID, scale ID N, restart ID, rm ID' },
  task: { module: './task.js', help: "tasks: `task ls [APP]`, `task log TASK [--follow] [--stderr]` (the task's sandbox output)" },
  control: { module: '../control/cli.js', help: 'control plane: `control status` shows convergence per agent' },
  vip: { module: '../netmetrics/cli.js', help: 'VIPs: `vip ls` (every VIP with connections, failures, success rate, from the masters; --agent: what one agent programmed), `vip show NAME|VIP` (its backends)' },
  network: { module: '../overlay/cli.js', help: 'virtual networks: create|ls|rm|isolate|allow' },
  node: { module: '../master/node-cli.js', help: 'agents: `node ls` (with their health), `node rm AGENT_ID` (releases its overlay share after the grace period)' },
  diag: { module: '../diag/cli.js', help: 'diagnostics: `diag` shows every unit on every node (exit 1 if any is unhealthy), `diag bundle` writes a .tar.gz for a bug report' },
  auth: { module: '../admin/acs/cli-auth.js', help: 'log in and out: `auth login|logout|whoami` (keeps the token every command sends)' },
  acl: { module: '../admin/acs/cli-acl.js', help: 'permissions: `acl grant|revoke UID RESOURCE ACTION`, `acl ls [UID]`' },
  user: { module: '../admin/acs/cli-user.js', help: 'accounts: `user add|ls|rm` (users and service accounts)' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([n, c]) => `  ${n.padEnd(11)} ${c.help}`);
  return `usage: sextant <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n\`sextant <command> --help\` (or \`sextant help <command>\`) shows a command's options.\n`;
}

async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest[0] && commands[rest[0]]) return run([rest[0], '--help']);
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`sextant: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  let mod: { main(argv: string[]): Promise<number | void> };
  try {
    mod = await import(cmd.module);
  } catch (e) {
    process.stderr.write(`sextant: command '${name}' is not available in this build: ${(e as Error).message}\n`);
    return 2;
  }
  const code = await mod.main(rest);
  return typeof code === 'number' ? code : 0;
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sextant: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
