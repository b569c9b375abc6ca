/**
 * Where the entry point sends a request. Mesos-port routes and Mesos-DNS go to the LEADING master
 * (asked from this master's `/master/redirect`, which a leader answers with itself and a follower
 * with the leader; cached briefly and dropped when an upstream answers with a redirect), so a
 * client of a follower's entry point never sees the follower's internal 307. Marathon goes to this
 * master's Marathon port (a follower proxies that to the leader itself). `/service/<app>/` goes to
 * a running task of the app, asked from Marathon (host and first port), round robin.
 */
import http from 'node:http';
import https from 'node:https';
import type { TlsMaterial } from '../../common/tls-files.js';
import type { Clock } from '../../common/clock.js';
import { UnavailableError } from '../../common/errors.js';
import { responseJson } from '../../common/http.js';

export interface Target {
  host: string;
  port: number;
  /** A component port under mutual TLS: https with the master's client certificate. */
  tls?: boolean;
}

export interface Upstreams {
  mesos(): Promise<Target>;
  marathon(): Promise<Target>;
  mesosDns(): Promise<Target>;
  /** A running task of the app; throws UnavailableError naming why there is none. */
  service(app: string): Promise<Target>;
  /** An upstream redirected: ask the leader again on the next request. */
  leaderChanged(): void;
}

export interface MasterUpstreamOptions {
  ip: string;
  port: number;
  marathonPort: number;
  mesosDnsPort: number;
  clock: Clock;
  /** How long a leader lookup is reused (ms). */
  leaderCacheMs?: number;
  agent?: http.Agent;
  /** The master's mutual-TLS material: its ports (and Mesos-DNS) are https and want a client certificate. */
  tls?: TlsMaterial;
}

const LOOKUP_TIMEOUT_MS = 5000;

function getJson(agent: http.Agent, t: Target, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: unknown }> {
  return new Promise((resolve, reject) => {
    const get = agent instanceof https.Agent ? https.get : http.get;
    const req = get({ host: t.host, port: t.port, path, agent, timeout: LOOKUP_TIMEOUT_MS }, (res) => void responseJson(res).then(resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${LOOKUP_TIMEOUT_MS} ms`))).on('error', reject);
  });
}

export function parseHostPort(s: string): Target | undefined {
  const m = s.match(/^(?:https?:)?\/\/(\[[^\]]+\]|[^/:]+):(\d+)/) ?? s.match(/^(\[[^\]]+\]|[^/:]+):(\d+)$/);
  return m ? { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } : undefined;
}

export class MasterUpstreams implements Upstreams {
  private leader: { t: Target; until: number } | undefined;
  private lookup: Promise<Target> | undefined;
  private rr = 0;
  private readonly agent: http.Agent;
  constructor(private readonly o: MasterUpstreamOptions) {
    this.agent = o.agent ?? (o.tls ? new https.Agent({ keepAlive: true, maxSockets: 16, ...o.tls }) : new http.Agent({ keepAlive: true, maxSockets: 16 }));
  }

  private get secure(): { tls?: true } {
    return this.o.tls ? { tls: true } : {};
  }

  private get self(): Target {
    return { host: this.o.ip, port: this.o.port, ...this.secure };
  }

  async mesos(): Promise<Target> {
    const now = this.o.clock.now();
    if (this.leader && this.leader.until > now) return this.leader.t;
    this.lookup ??= this.askLeader().finally(() => (this.lookup = undefined));
    return this.lookup;
  }

  private async askLeader(): Promise<Target> {
    let r;
    try {
      r = await getJson(this.agent, this.self, '/master/redirect');
    } catch (e) {
      throw new UnavailableError(`this master's API (${this.o.ip}:${this.o.port}) did not answer: ${(e as Error).message}`);
    }
    const t = r.status === 307 && typeof r.headers.location === 'string' ? parseHostPort(r.headers.location) : undefined;
    if (!t) {
      const why = typeof r.body === 'object' && r.body && 'message' in r.body ? String((r.body as { message: unknown }).message) : `answered ${r.status}`;
      throw new UnavailableError(`no leading master known: ${why}`);
    }
    this.leader = { t: { ...t, ...this.secure }, until: this.o.clock.now() + (this.o.leaderCacheMs ?? 2000) };
    return this.leader.t;
  }

  async marathon(): Promise<Target> {
    return { host: this.o.ip, port: this.o.marathonPort, ...this.secure };
  }

  async mesosDns(): Promise<Target> {
    return { host: (await this.mesos()).host, port: this.o.mesosDnsPort, ...this.secure };
  }

  async service(app: string): Promise<Target> {
    let r;
    try {
      r = await getJson(this.agent, { host: this.o.ip, port: this.o.marathonPort }, `/v2/apps${app}/tasks`);
    } catch (e) {
      throw new UnavailableError(`Marathon did not answer for app ${app}: ${(e as Error).message}`);
    }
    if (r.status === 404) throw new UnavailableError(`app ${app} does not exist`);
    if (r.status !== 200) throw new UnavailableError(`Marathon answered ${r.status} for the tasks of ${app}`);
    const tasks = ((r.body as { tasks?: { host?: string; ports?: number[]; state?: string }[] })?.tasks ?? []).filter((t) => t.state === 'TASK_RUNNING');
    const usable = tasks.filter((t) => t.host && t.ports?.length);
    if (!usable.length) throw new UnavailableError(tasks.length ? `no running task of ${app} has a port` : `app ${app} has no running task`);
    const t = usable[this.rr++ % usable.length]!;
    return { host: t.host!, port: t.ports![0]! };
  }

  leaderChanged(): void {
    this.leader = undefined;
  }
}
