/**
 * Which handler owns a name: longest-suffix match over the routing table (dcos-dns took the first
 * match, so a forward zone `a.mesos` lost to `mesos`). The table is data, built from the config.
 */
import type { Endpoint } from './endpoint.js';

/** Zones the dispatcher answers itself. */
export const LOCAL_ZONES = ['thisdcos.directory', 'spartan', 'localhost'];

export type Route =
  | { kind: 'local'; zone: string }
  | {
      kind: 'forward';
      /** The zone that matched ('.' for the default upstreams); the `zone` metric label. */
      zone: string;
      resolvers: Endpoint[];
      /** Answers may be cached (not for .mesos or thisdcos.directory). */
      cacheable: boolean;
      /** Mesos-DNS answers: kept and served stale when every Mesos-DNS upstream fails (stale.ts). */
      serveStale?: boolean;
      /** The first resolver is the elected master's: always asked first, whatever its failures (health.ts). */
      leaderFirst?: boolean;
    };

export class RouteTable {
  private readonly bySuffix = new Map<string, Route>();
  private readonly fallback: Route;

  constructor(opts: { upstream: Endpoint[]; mesos: Endpoint[]; forwardZones: Map<string, Endpoint[]> }) {
    this.fallback = { kind: 'forward', zone: '.', resolvers: opts.upstream, cacheable: true };
    this.bySuffix.set('mesos', { kind: 'forward', zone: 'mesos', resolvers: opts.mesos, cacheable: false, serveStale: true });
    for (const [zone, resolvers] of opts.forwardZones) {
      this.bySuffix.set(zone, { kind: 'forward', zone, resolvers, cacheable: !uncacheable(zone) });
    }
    for (const zone of LOCAL_ZONES) this.bySuffix.set(zone, { kind: 'local', zone });
  }

  /** The route of a lower-cased dotted name: try the whole name, then drop one label at a time. */
  route(qname: string): Route {
    let name = qname;
    for (;;) {
      const r = this.bySuffix.get(name);
      if (r) return r;
      const dot = name.indexOf('.');
      if (dot < 0) return this.fallback;
      name = name.slice(dot + 1);
    }
  }

  /** Replace the resolvers of the `mesos` route (the master list changed); `leaderFirst`: the first is the elected master's. */
  setMesosResolvers(resolvers: Endpoint[], leaderFirst = false): void {
    const r = this.bySuffix.get('mesos');
    if (r?.kind !== 'forward') return;
    r.resolvers = resolvers;
    r.leaderFirst = leaderFirst;
  }

  zones(): string[] {
    return [...this.bySuffix.keys()];
  }
}

function uncacheable(zone: string): boolean {
  return zone === 'mesos' || zone.endsWith('.mesos') || zone === 'thisdcos.directory' || zone.endsWith('.thisdcos.directory');
}
