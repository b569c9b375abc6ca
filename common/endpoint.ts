/**
 * The address an admin command talks to (`--master`, `--agent`, SEXTANT_MASTER), written however
 * an operator writes it: `IP`, `IP:PORT`, `[IPv6]:PORT`, `host:port`, or a URL `http://IP:PORT/`.
 * Every command reads it the same way, so one SEXTANT_MASTER serves them all. Also where such a
 * command writes (CliIo), so tests can capture it.
 */

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The base URL (`http://host:port`, no trailing slash); throws naming `what` when `v` is not an address. */
export function endpointUrl(v: string, defaultPort: number, what: string): string {
  const text = v.trim();
  let u: URL;
  try {
    u = new URL(SCHEME.test(text) ? text : `http://${text}`);
  } catch {
    throw new Error(`${what} ${JSON.stringify(v)} is not an address (IP, IP:PORT or http://IP:PORT)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what} ${JSON.stringify(v)}: only http and https are spoken`);
  if (!u.hostname || u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== ''))
    throw new Error(`${what} ${JSON.stringify(v)} is not an address (IP, IP:PORT or http://IP:PORT)`);
  // No port written: the service's own, not the scheme's (URL drops a written :80 or :443 too).
  const hostPart = text.replace(SCHEME, '').split('/')[0]!;
  if (!/:\d+$/.test(hostPart)) u.port = String(defaultPort);
  return `${u.protocol}//${u.host}`;
}

/** The master's API base URL: the `--master` value, else SEXTANT_MASTER, else 127.0.0.1:5050; errors name the source. */
export function masterUrl(option: string | undefined): string {
  if (option !== undefined) return endpointUrl(option, 5050, '--master');
  return endpointUrl(process.env.SEXTANT_MASTER ?? '127.0.0.1', 5050, 'SEXTANT_MASTER');
}

/** Where an admin command writes (tests pass their own). */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
}
export const stdio: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };
