/**
 * The entry point as a master front (contracts/plugin.ts): built on every master when
 * `--admin-port` is given. Construction does no I/O; start() reads the operator's certificate or
 * issues one from the cluster CA (`--ca-dir`, created when absent) for the master's IP and host
 * name, then listens.
 */
import fs from 'node:fs';
import path from 'node:path';
import { systemClock } from '../../common/clock.js';
import { ConfigError } from '../../common/errors.js';
import { ensureCa, issueCert } from '../../common/pki.js';
import type { Authority } from '../../contracts/auth.js';
import type { Component, MasterFrontHost } from '../../contracts/plugin.js';
import type { EntryLimits } from './config.js';
import { EntryServer } from './server.js';
import { MasterUpstreams } from './upstreams.js';
import { EntryWorkers } from './workers.js';
import { NGINX, NginxFront } from './front.js';

export interface EntryPluginConfig {
  /** The identity service, asked per request (it may start after the entry point); none: non-public requests get 503. */
  authority: () => Authority | undefined;
  /** Mesos-DNS HTTP port on the leader (SEXTANT_MESOS_DNS_HTTP_PORT, 8123). */
  mesosDnsPort: number;
  limits?: Partial<EntryLimits>;
}

/** The TLS material for the entry point: the operator's, or a leaf issued by the cluster CA. */
export async function entryTls(h: MasterFrontHost): Promise<{ cert: Buffer; key: Buffer; ca?: string }> {
  const { cert, key, caDir } = h.admin;
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError(cert ? '--admin-key' : '--admin-cert', 'is required with the other');
  if (cert && key) return { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
  const ca = await ensureCa(caDir);
  const dns = [...new Set([h.hostname, 'localhost'].filter((x): x is string => !!x && !/^[\d.:]+$/.test(x)))];
  const ips = [...new Set([h.ip, ...(h.ip.startsWith('127.') ? [] : ['127.0.0.1'])])];
  const leaf = await issueCert(ca, path.join(h.workDir, 'entry-tls'), 'entry', { cn: h.hostname ?? h.ip, usage: 'server', ips, dns });
  return { cert: fs.readFileSync(leaf.cert), key: fs.readFileSync(leaf.key), ca: ca.cert };
}

export function entryPlugin(c: EntryPluginConfig): (h: MasterFrontHost) => Component | undefined {
  return (h) => {
    const port = h.admin.port;
    if (port === undefined) return undefined;
    let server: EntryServer | EntryWorkers | NginxFront | undefined;
    return {
      name: 'entry',
      async start() {
        const tls = await entryTls(h);
        const upstream = { ip: h.ip, port: h.port, marathonPort: h.marathonPort, mesosDnsPort: c.mesosDnsPort };
        const workers = c.limits?.workers ?? 1;
        let front = h.admin.front;
        if (front === undefined) {
          front = fs.existsSync(NGINX) ? 'nginx' : 'node';
          if (front === 'node') h.log.warn('entry_front_node', { why: `${NGINX} is not installed: the entry point runs without nginx in front (install nginx-light and libnginx-mod-http-lua for its throughput; docs/benchmarks/admin.md)` });
        }
        if (front === 'nginx') {
          const local = { marathon: { host: h.ip, port: h.marathonPort }, mesos: { host: h.ip, port: h.port }, mesosDns: { host: h.ip, port: c.mesosDnsPort } };
          server = new NginxFront({
            host: h.ip, port, cert: tls.cert, key: tls.key, dir: path.join(h.workDir, 'entry-front'), local, workers,
            upstreams: new MasterUpstreams({ ...upstream, clock: systemClock, ...(h.tls ? { tls: h.tls } : {}) }), ...(h.tls ? { upstreamTls: h.tls } : {}),
            authority: c.authority, registry: h.metrics, log: h.log, ...(c.limits ? { limits: c.limits } : {}),
          });
        } else if (workers > 1) server = new EntryWorkers({ workers, host: h.ip, port, cert: tls.cert, key: tls.key, upstream, authority: c.authority, registry: h.metrics, log: h.log, ...(c.limits ? { limits: c.limits } : {}), ...(h.tls ? { upstreamTls: h.tls } : {}) });
        else server = new EntryServer({ host: h.ip, port, cert: tls.cert, key: tls.key, upstreams: new MasterUpstreams({ ...upstream, clock: systemClock, ...(h.tls ? { tls: h.tls } : {}) }), ...(h.tls ? { upstreamTls: h.tls } : {}), authority: c.authority, registry: h.metrics, log: h.log, ...(c.limits ? { limits: c.limits } : {}) });
        await server.start();
        if (!c.authority()) h.log.warn('entry_without_identity_service', { why: 'no Authority (admin/acs) in this master: every request that needs a token is refused with 503' });
      },
      async stop() {
        await server?.stop();
      },
    };
  };
}
