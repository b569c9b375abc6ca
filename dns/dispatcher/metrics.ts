/** The dispatcher's Prometheus metrics (like dcos-dns's), on a registry passed in. */
import { prom, type Registry } from '../../common/metrics.js';
import { BatchedCounter, BatchedHistogram } from './batched-metrics.js';

const buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** Read at scrape time (gauges the hot path would otherwise set per query). */
export interface GaugeSources {
  inflight(): number;
  cacheEntries(): number;
  /** Answers kept for serve-stale. */
  staleEntries?(): number;
  /** Processes answering UDP (1 + live worker processes). */
  workers?(): number;
}

export function dispatcherMetrics(r: Registry, sources?: GaugeSources) {
  const registers = [r];
  return {
    /** Hot-path metrics are batched: use `.cell(labels)` once and count on the cell. */
    requests: new BatchedCounter(r, { name: 'sextant_dispatcher_requests_total', help: 'DNS queries received, by transport', labelNames: ['transport'] }),
    requestDuration: new BatchedHistogram(r, {
      name: 'sextant_dispatcher_request_duration_seconds',
      help: 'Time to answer a query, by routing zone',
      labelNames: ['zone'],
      buckets,
    }),
    forwarderFailures: new prom.Counter({
      name: 'sextant_dispatcher_forwarder_failures_total',
      help: 'Queries answered SERVFAIL because every upstream failed, by routing zone',
      labelNames: ['zone'],
      registers,
    }),
    workerFailures: new prom.Counter({
      name: 'sextant_dispatcher_worker_failures_total',
      help: 'Failed upstream queries, by upstream and reason',
      labelNames: ['upstream', 'reason'],
      registers,
    }),
    workerDuration: new BatchedHistogram(r, {
      name: 'sextant_dispatcher_worker_duration_seconds',
      help: 'Upstream answer time, by upstream',
      labelNames: ['upstream'],
      buckets,
    }),
    zoneRecords: new prom.Gauge({ name: 'sextant_dispatcher_zone_records', help: 'Records in the local zones, by zone', labelNames: ['zone'], registers }),
    cacheHits: new BatchedCounter(r, { name: 'sextant_dispatcher_cache_hits_total', help: 'Upstream answers served from the cache' }).cell(),
    cacheMisses: new BatchedCounter(r, { name: 'sextant_dispatcher_cache_misses_total', help: 'Cacheable queries not in the cache' }).cell(),
    cacheEntries: new prom.Gauge({
      name: 'sextant_dispatcher_cache_entries',
      help: 'Answers held in the cache',
      registers,
      collect() {
        if (sources) this.set(sources.cacheEntries());
      },
    }),
    staleAnswers: new prom.Counter({
      name: 'sextant_dispatcher_stale_answers_total',
      help: 'Stale .mesos answers served (RFC 8767) because every Mesos-DNS upstream failed, by why (upstream_failed: this query failed; recheck: within the recheck window after a failure; slow_upstream: no upstream answer within serve_stale.client_timeout)',
      labelNames: ['why'],
      registers,
    }),
    stalls: new prom.Counter({
      name: 'sextant_dispatcher_event_loop_stalls_total',
      help: "Times this process's event loop stood still 1 s or more (no query read or answered meanwhile)",
      registers,
    }),
    staleEntries: new prom.Gauge({
      name: 'sextant_dispatcher_stale_entries',
      help: 'Mesos-DNS answers kept for serve-stale',
      registers,
      collect() {
        this.set(sources?.staleEntries?.() ?? 0);
      },
    }),
    dropped: new prom.Counter({
      name: 'sextant_dispatcher_dropped_replies_total',
      help: 'Upstream UDP replies dropped as spoofed or stray (wrong source, ID or question)',
      labelNames: ['reason'],
      registers,
    }),
    udpDropped: new prom.Counter({
      name: 'sextant_dispatcher_udp_dropped_total',
      help: 'Client UDP datagrams lost by the batching socket: queries over 4096 bytes, replies the kernel did not take',
      labelNames: ['reason'],
      registers,
    }),
    refused: new prom.Counter({
      name: 'sextant_dispatcher_refused_total',
      help: 'Queries refused because handler_limit queries were in flight',
      registers,
    }),
    malformed: new prom.Counter({
      name: 'sextant_dispatcher_malformed_total',
      help: 'Malformed client messages (answered FORMERR or dropped), by transport',
      labelNames: ['transport'],
      registers,
    }),
    workers: new prom.Gauge({
      name: 'sextant_dispatcher_workers',
      help: 'Processes answering UDP queries (1 + live worker processes)',
      registers,
      collect() {
        this.set(sources?.workers?.() ?? 1);
      },
    }),
    inflight: new prom.Gauge({
      name: 'sextant_dispatcher_inflight',
      help: 'Queries being handled',
      registers,
      collect() {
        if (sources) this.set(sources.inflight());
      },
    }),
  };
}

export type DispatcherMetrics = ReturnType<typeof dispatcherMetrics>;
