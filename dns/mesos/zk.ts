/**
 * `zk://` leader detection. This build has no ZooKeeper client: it parses the URL, checks
 * whether the ensemble is reachable, and says clearly that `Masters` is used instead.
 */
import net from 'node:net';
import type { Logger } from '../../common/log.js';
import { ConfigError } from '../../common/errors.js';
import { splitHostPort } from './state.js';

export interface ZkUrl {
  hosts: { host: string; port: number }[];
  path: string;
}

export function parseZkUrl(url: string): ZkUrl {
  const m = /^zk:\/\/(?:[^@/]*@)?([^/]+)(\/.*)?$/.exec(url);
  if (!m) throw new ConfigError('Zk', `invalid zk url ${url} (want zk://host:port[,host:port]/path)`);
  const hosts = m[1]!.split(',').map((h) => {
    const hp = splitHostPort(h) ?? { host: h, port: '2181' };
    if (!hp.host || !/^\d+$/.test(hp.port)) throw new ConfigError('Zk', `bad zk host ${h} in ${url}`);
    return { host: hp.host, port: Number(hp.port) };
  });
  return { hosts, path: m[2] ?? '/' };
}

function reachable(host: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Log what zk:// gives us here; never throws for an unreachable ensemble. */
export async function checkZk(url: string, masters: string[], log: Logger): Promise<void> {
  const zk = parseZkUrl(url);
  const up = await Promise.all(zk.hosts.map((h) => reachable(h.host, h.port)));
  const reach = zk.hosts.filter((_, i) => up[i]).map((h) => `${h.host}:${h.port}`);
  log.warn('zk_detection_unsupported', {
    zk: url,
    reachable: reach,
    why: reach.length ? 'ZooKeeper leader detection is not built in; using Masters and following the state leader' : 'no ZooKeeper host reachable',
    fallback: masters.length ? masters : 'none: set Masters in config.json',
  });
}
