/**
 * `zk://[user:pass@]H1:2181,H2,[::1]:2181/path`, as Mesos, Marathon and mesos-dns write it: one
 * parser for the master's `--zk` and Mesos-DNS's `zk` config key. A port left out is 2181; a
 * trailing `/` is dropped; a URL without a path means `/`. A bad URL is a ConfigError naming `field`.
 */
import { ConfigError } from './errors.js';

export interface ZkUrl {
  hosts: { host: string; port: number }[];
  path: string;
  /** `user:pass` before the `@`, for digest auth (as Mesos does). */
  auth?: string;
}

/** The URL with its credential (`user:pass@`) masked, for messages and logs. */
export function redactZkUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1******@');
}

export function parseZkUrl(url: string, field = 'Zk'): ZkUrl {
  const m = /^zk:\/\/(?:([^@/]*)@)?([^/]+)(\/.*)?$/.exec(url);
  if (!m) throw new ConfigError(field, `invalid zk url ${redactZkUrl(url)} (want zk://host:port[,host:port]/path)`);
  const hosts = m[2]!.split(',').map((h) => {
    const hp = /^\[([^\]]+)\](?::(\d+))?$/.exec(h) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(h);
    const port = Number(hp?.[2] ?? 2181);
    if (!hp || !Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(field, `bad zk host ${h} in ${redactZkUrl(url)}`);
    return { host: hp[1]!, port };
  });
  const path = (m[3] ?? '/').replace(/\/+$/, '') || '/';
  return { hosts, path, ...(m[1] ? { auth: m[1] } : {}) };
}

/** The client's connect string: `h1:2181,[::1]:2181`. */
export function zkConnectString(z: ZkUrl): string {
  return z.hosts.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)).join(',');
}
