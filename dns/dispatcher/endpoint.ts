/** `ip[:port]` / `[ip6]:port` resolver addresses, parsed once at config time. */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface Endpoint {
  host: string;
  port: number;
  family: 4 | 6;
  /** `host:port` (`[host]:port` for IPv6): the label used in metrics and logs. */
  label: string;
}

export function endpoint(host: string, port: number): Endpoint {
  const family = isIP(host) === 6 ? 6 : 4;
  // Node reports reply sources in canonical form; compare like with like.
  if (family === 6) host = ipaddr.parse(host).toString();
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/** Parse `ip`, `ip:port`, `ip6`, `[ip6]` or `[ip6]:port`; returns an error string when bad. */
export function parseEndpoint(s: string, defaultPort: number): Endpoint | string {
  let host = s.trim();
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (isIP(host) === 0) {
    const i = host.lastIndexOf(':');
    if (i < 0) return `'${s}' is not an IP address`;
    const p = host.slice(i + 1);
    host = host.slice(0, i);
    if (!/^\d+$/.test(p)) return `'${s}' has a bad port`;
    port = Number(p);
  }
  if (isIP(host) === 0) return `'${s}' is not an IP address`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `'${s}' has a port outside 1-65535`;
  return endpoint(host, port);
}
