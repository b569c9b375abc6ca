/**
 * The address an admin command talks to (`--master`, `--agent`, SEXTANT_MASTER), written however
 * an operator writes it: `IP`, `IP:PORT`, `[IPv6]:PORT`, `host:port`, or a URL `http://IP:PORT/`.
 * Every command reads it the same way, so one SEXTANT_MASTER serves them all.
 */

/** The base URL (`http://host:port`, no trailing slash); throws naming `what` when `v` is not an address. */
export function endpointUrl(v: string, defaultPort: number, what: string): string {
  const text = v.trim();
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new Error(`${what} ${JSON.stringify(v)} is not an address (IP, IP:PORT or http://IP:PORT)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${what} ${JSON.stringify(v)}: only http and https are spoken`);
  if (!u.hostname || u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== ''))
    throw new Error(`${what} ${JSON.stringify(v)} is not an address (IP, IP:PORT or http://IP:PORT)`);
  // No port written: the service's own, not the scheme's (URL drops a written :80 or :443 too).
  const hostPart = text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!;
  if (!/:\d+$/.test(hostPart)) u.port = String(defaultPort);
  return `${u.protocol}//${u.host}`;
}
