/**
 * Mesos-DNS metrics. Query counts are kept in plain arrays on the hot path and copied into the
 * prom-client counter when scraped, so answering a query never touches label maps.
 */
import { prom, type Registry } from '../../common/metrics.js';
import { rcodeName, typeName } from '../wire/index.js';

export class DnsMetrics {
  /** counts[qtype & 0xff][rcode & 0xf]; qtype 256+ is folded into TYPE0 slot. */
  private readonly counts = new Float64Array(256 * 16);
  private readonly reported = new Float64Array(256 * 16);
  readonly queries: prom.Counter<'type' | 'rcode'>;
  readonly records: prom.Gauge<'kind'>;
  readonly refreshDuration: prom.Histogram;
  readonly refreshFailures: prom.Counter<'reason'>;
  readonly forwarded: prom.Counter<'result'>;
  readonly malformed: prom.Counter<'transport'>;

  constructor(registry: Registry) {
    const counts = this.counts;
    const reported = this.reported;
    this.queries = new prom.Counter({
      name: 'sextant_mesos_dns_queries_total',
      help: 'DNS queries answered, by query type and response code',
      labelNames: ['type', 'rcode'],
      registers: [registry],
      collect() {
        for (let i = 0; i < counts.length; i++) {
          const d = counts[i]! - reported[i]!;
          if (d > 0) {
            this.inc({ type: typeName(i >> 4), rcode: rcodeName(i & 15) }, d);
            reported[i] = counts[i]!;
          }
        }
      },
    });
    this.records = new prom.Gauge({ name: 'sextant_mesos_dns_records', help: 'Records currently served, by kind', labelNames: ['kind'], registers: [registry] });
    this.refreshDuration = new prom.Histogram({
      name: 'sextant_mesos_dns_refresh_duration_seconds',
      help: 'Time to fetch state (when polling) and regenerate records',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers: [registry],
    });
    this.refreshFailures = new prom.Counter({ name: 'sextant_mesos_dns_refresh_failures_total', help: 'Refreshes that kept the old records, by reason', labelNames: ['reason'], registers: [registry] });
    this.forwarded = new prom.Counter({ name: 'sextant_mesos_dns_forwarded_total', help: 'Queries outside the domain, by result', labelNames: ['result'], registers: [registry] });
    this.malformed = new prom.Counter({ name: 'sextant_mesos_dns_malformed_total', help: 'Packets that were not valid DNS queries', labelNames: ['transport'], registers: [registry] });
  }

  query(qtype: number, rcode: number): void {
    this.counts[((qtype > 255 ? 0 : qtype) << 4) | (rcode & 15)]!++;
  }
}
