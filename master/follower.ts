/**
 * What a master that is not the leader serves on its two ports, like Mesos and Marathon standbys:
 * Mesos port: `/master/redirect` -> 307 `Location: //LEADER_IP:PORT`, any other Mesos call -> 307
 * to the same path on the leader, `/health` and `/metrics` answered here. Marathon port: every
 * request proxied to the leader's Marathon (so clients that do not follow redirects still work).
 * Without a known leader: 503 with a body naming the cause. Under mutual TLS (#30) both ports are
 * https and require a client certificate of the cluster CA at the TLS layer (a follower has no
 * public route: an agent bootstraps with the leader), redirects name https, and the Marathon proxy
 * presents this master's certificate to the leader.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry, TlsMaterial } from '../common/index.js';

export interface FollowerOptions {
  ip: string;
  port: number;
  marathonPort: number;
  registry: Registry;
  /** Leader's Mesos `host:port`, undefined while none is elected. */
  leader(): string | undefined;
  /** Leader's Marathon `host:port` (read from ZooKeeper), undefined while unknown. */
  marathonLeader(): Promise<string | undefined>;
  /** The master's mutual-TLS material (absent: --insecure-dev, plain HTTP). */
  tls?: TlsMaterial;
}

const NO_LEADER = 'no leading master elected (ZooKeeper election in progress or no quorum); retry shortly';

function reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export class FollowerServer {
  private servers: (http.Server | https.Server)[] = [];
  constructor(private readonly o: FollowerOptions) {}

  async start(): Promise<void> {
    const create = (fn: http.RequestListener) => (this.o.tls ? https.createServer({ ...this.o.tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, fn) : http.createServer(fn));
    const mesos = create((req, res) => void this.mesos(req, res).catch(() => res.headersSent || reply(res, 500, { message: 'internal error' })));
    const marathon = create((req, res) => void this.marathon(req, res).catch(() => res.headersSent || reply(res, 502, { message: 'proxy to the leader failed' })));
    for (const [srv, port] of [[mesos, this.o.port], [marathon, this.o.marathonPort]] as const) {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(port, this.o.ip, () => (srv.off('error', reject), resolve()));
      });
      this.servers.push(srv);
    }
  }

  get ports(): number[] {
    return this.servers.map((s) => (s.address() as AddressInfo).port);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.splice(0).map((s) => new Promise<void>((r) => {
        s.close(() => r());
        s.closeAllConnections();
      })),
    );
  }

  private async mesos(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    if (path === '/health') return void res.writeHead(200).end();
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': this.o.registry.contentType });
      return void res.end(await this.o.registry.metrics());
    }
    const leader = this.o.leader();
    if (!leader) return reply(res, 503, { message: NO_LEADER });
    if (path === '/master/redirect' || path.startsWith('/master/redirect?')) return reply(res, 307, { leader }, { location: `//${leader}` });
    reply(res, 307, { message: `not the leader; the leader is ${leader}`, leader }, { location: `${this.scheme}://${leader}${path}` });
  }

  private get scheme(): string {
    return this.o.tls ? 'https' : 'http';
  }

  private async marathon(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const target = await this.o.marathonLeader();
    if (!target) return reply(res, 503, { message: NO_LEADER });
    const [host, port] = [target.slice(0, target.lastIndexOf(':')).replace(/^\[|\]$/g, ''), Number(target.slice(target.lastIndexOf(':') + 1))];
    const opts = { host, port, method: req.method, path: req.url, headers: { ...req.headers, host: target } };
    const onRes = (r: http.IncomingMessage) => {
      res.writeHead(r.statusCode ?? 502, { ...r.headers, 'x-marathon-leader': `${this.scheme}://${target}` });
      r.pipe(res);
    };
    const up = this.o.tls ? https.request({ ...opts, ...this.o.tls, agent: false }, onRes) : http.request(opts, onRes);
    up.on('error', (e) => (res.headersSent ? res.destroy() : reply(res, 502, { message: `leader ${target} unreachable: ${e.message}` })));
    res.on('close', () => up.destroy());
    req.pipe(up);
  }
}
