/**
 * Mesos-DNS as a component: holds the current record set, regenerates it from master state
 * (keeping the old records when the state is bad), and serves DNS and the HTTP API.
 */
import { promises as dnsp } from 'node:dns';
import { networkInterfaces } from 'node:os';
import type { Component } from '../../common/daemon.js';
import { serve, type HttpServer, type Router, type ServerTls } from '../../common/http.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { createLogger, type Logger } from '../../common/log.js';
import { LogLimiter, limitedLogger, logDroppedCounter } from '../../common/log-limit.js';
import type { Registry } from '../../common/metrics.js';
import { apiRouter } from './api.js';
import { Answers, type Shuffler } from './answers.js';
import type { MesosDnsConfig } from './config.js';
import { Forwarder } from './forward.js';
import { generateRecordsAsync, type GeneratorConfig } from './generator.js';
import { DnsMetrics } from './metrics.js';
import type { RecordSet } from './recordset.js';
import { DnsServer } from './server.js';
import { hostnamesIn, parseStateAsync } from './state.js';

export interface MesosDnsOptions {
  config: MesosDnsConfig;
  registry: Registry;
  log?: Logger;
  /** Hostname lookups (tests inject; default: the OS resolver via dns.lookup). */
  lookup?: (host: string) => Promise<string[]>;
  /** Time for the log rate limit (tests inject). */
  clock?: Clock;
  /** Order of the answers in a reply (default: a fresh random shuffle per reply variant; tests inject a fixed order). */
  shuffle?: Shuffler;
  /** The HTTP API over mutual TLS (inside a secure master: its certificate, callers need one of the cluster CA). */
  httpTls?: ServerTls;
}

const HOST_CACHE_MS = 60_000;

export class MesosDns implements Component {
  readonly name = 'mesos-dns';
  readonly metrics: DnsMetrics;
  private readonly log: Logger;
  private current?: { rs: RecordSet; answers: Answers; serial: number };
  private dns?: DnsServer;
  private http?: HttpServer;
  private forwarder?: Forwarder;
  private readonly hostCache = new Map<string, { ips: string[]; at: number }>();
  /** Counts setState calls; only the newest one's records are swapped in. */
  private generation = 0;

  constructor(private readonly o: MesosDnsOptions) {
    // Limited per event: what a client can cause once per packet cannot flood the log.
    const limit = { perSecond: o.config.LogLimitPerSecond, burst: o.config.LogLimitBurst };
    this.log = limitedLogger(o.log ?? createLogger('mesos-dns'), new LogLimiter(limit, o.clock ?? systemClock), logDroppedCounter(o.registry, 'mesos-dns'));
    this.metrics = new DnsMetrics(o.registry);
  }

  get config(): MesosDnsConfig {
    return this.o.config;
  }

  records(): RecordSet | undefined {
    return this.current?.rs;
  }

  /** Replace the record set (already generated) and drop every cached answer. */
  setRecords(rs: RecordSet): void {
    const c = this.o.config;
    const serial = Math.max((this.current?.serial ?? 0) + 1, Math.floor(Date.now() / 1000)) >>> 0;
    const answers = new Answers(rs, {
      domain: c.Domain, ttl: c.TTL, srvWeight: c.SRVRecordDefaultWeight, soaMname: c.SOAMname, soaRname: c.SOARname,
      soaSerial: serial, soaRefresh: c.SOARefresh, soaRetry: c.SOARetry, soaExpire: c.SOAExpire, recurseOn: c.RecurseOn,
      setTruncateBit: c.SetTruncateBit, edns0On: c.EDNS0On,
    }, undefined, this.o.shuffle);
    this.current = { rs, answers, serial };
    this.metrics.records.set({ kind: 'A' }, count(rs.a));
    this.metrics.records.set({ kind: 'AAAA' }, count(rs.aaaa));
    this.metrics.records.set({ kind: 'SRV' }, count(rs.srv));
  }

  /**
   * Regenerate from `/master/state` JSON. Returns false (keeping the old records, logging why)
   * when the state is malformed. `masters` overrides the configured list for master records.
   */
  async setState(stateJson: unknown, masters = this.o.config.Masters): Promise<boolean> {
    const t0 = performance.now();
    // Parsing and generation are sliced (they yield to the event loop about every 1 ms, so queries
    // keep being answered); a rebuild that a newer one overtook must not swap its records in last.
    const gen = ++this.generation;
    let state;
    try {
      state = await parseStateAsync(stateJson);
    } catch (e) {
      this.metrics.refreshFailures.inc({ reason: 'malformed_state' });
      this.log.warn('state_rejected_keeping_old_records', { err: e });
      return false;
    }
    for (const w of state.warnings) this.log.warn('state_part_skipped', { why: w });
    const hosts = await this.resolveHosts(hostnamesIn(state, masters));
    const warned = new Set<string>();
    const rs = await generateRecordsAsync(state, this.generatorConfig(masters), {
      hosts,
      localAddresses: localAddresses(),
      warn: (why) => {
        if (warned.size < 50 && !warned.has(why)) {
          warned.add(why);
          this.log.warn('record_skipped', { why });
        }
      },
    });
    for (const n of rs.skipped.slice(0, 10)) this.log.warn('name_not_encodable', { name: n });
    if (gen !== this.generation) {
      this.log.debug('records_superseded', { generation: gen, latest: this.generation });
      return true;
    }
    this.setRecords(rs);
    const secs = (performance.now() - t0) / 1000;
    this.metrics.refreshDuration.observe(secs);
    this.log.debug('records_generated', { records: rs.size(), ms: Math.round(secs * 1000) });
    return true;
  }

  generatorConfig(masters: string[]): GeneratorConfig {
    const c = this.o.config;
    return { domain: c.Domain, soaMname: c.SOAMname, listener: c.Listener, masters, ipSources: c.IPSources, enforceRFC952: c.EnforceRFC952 };
  }

  private async resolveHosts(names: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const now = Date.now();
    const lookup = this.o.lookup ?? defaultLookup;
    await Promise.all(
      names.map(async (h) => {
        const hit = this.hostCache.get(h);
        if (hit && now - hit.at < HOST_CACHE_MS) return out.set(h, hit.ips);
        let ips: string[] = [];
        try {
          ips = await Promise.race([lookup(h), new Promise<string[]>((r) => setTimeout(() => r([]), 2000).unref())]);
        } catch (e) {
          this.log.warn('hostname_unresolved', { host: h, err: e });
        }
        this.hostCache.set(h, { ips, at: now });
        out.set(h, ips);
      }),
    );
    return out;
  }

  dnsPort(): number {
    return this.dns?.port ?? 0;
  }

  private api?: Router;
  /** The HTTP API's router (one per instance: what the HTTP port serves, and what a master dispatches `/mesos_dns/` into). */
  apiRouter(): Router {
    const c = this.o.config;
    this.api ??= apiRouter({ config: c, records: () => this.current?.rs, serial: () => this.current?.serial ?? c.SOASerial, registry: this.o.registry });
    return this.api;
  }

  httpAddress(): { host: string; port: number } | undefined {
    return this.http?.address();
  }

  async start(): Promise<void> {
    const c = this.o.config;
    if (c.ExternalOn) this.forwarder = new Forwarder(c.Resolvers, c.ZoneResolvers, c.Timeout * 1000);
    if (c.DnsOn) {
      const dns = new DnsServer({
        host: c.Listener, port: c.Port, domain: c.Domain, externalOn: c.ExternalOn, setTruncateBit: c.SetTruncateBit,
        answers: () => this.current?.answers, forwarder: this.forwarder, metrics: this.metrics, log: this.log,
        tcpIdleMs: c.TCPIdleTimeout * 1000,
      });
      await dns.start();
      this.dns = dns;
      this.log.info('dns_listening', { host: c.Listener, port: dns.port });
    }
    if (c.HttpOn) {
      try {
        this.http = await serve(this.apiRouter(), { host: c.HTTPListener, port: c.HttpPort, ...(this.o.httpTls ? { tls: this.o.httpTls } : {}) });
      } catch (e) {
        await this.stop();
        throw new Error(`cannot listen for HTTP on ${c.HTTPListener}:${c.HttpPort}: ${(e as Error).message}`);
      }
      this.log.info('http_listening', this.http.address());
    }
  }

  async stop(): Promise<void> {
    await this.dns?.stop();
    this.dns = undefined;
    await this.http?.close();
    this.http = undefined;
    this.forwarder?.close();
    this.forwarder = undefined;
  }
}

async function defaultLookup(host: string): Promise<string[]> {
  const r = await dnsp.lookup(host, { all: true });
  return r.map((a) => a.address);
}

function count(m: Map<string, Set<string>>): number {
  let n = 0;
  for (const s of m.values()) n += s.size;
  return n;
}

function localAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.internal) out.push(a.address.split('%')[0]!);
  return out;
}
