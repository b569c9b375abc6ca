/**
 * VIP metrics for the nftables driver, counted by the kernel in a table of their own
 * (`inet <driver table>_metrics`), so the driver's ruleset and its element writes stay as they are.
 * Dynamic sets with per-element counters, keyed on VIP . protocol . backend . backend port (the VIP
 * from the connection's original tuple, the backend from the DNAT'd packet). The VIP's port is not
 * in the key (nft 1.0.6 cannot put `ct original proto-dst` in a concatenation: it crashes), so
 * `read` finds it from the programmed services; two ports of one VIP sent to the same backend
 * address and port are counted together, on the lower port. The sets:
 *   - `conns4/6`: updated by NAT chains (postrouting before the driver's masquerade, and input),
 *     which the kernel runs only for a connection's first packet: no work for the packets after
 *     it. A ct mark bit (`MARK_COUNTED`) marks the connection as counted, for the byte counts;
 *   - `fails4/6` (TCP): filter chains after NAT (prerouting and output, priority 10) see the TCP
 *     packets of DNAT'd connections not yet assured (`ct status & (dnat | assured) == dnat`: an
 *     established connection's packets stop at that one compare, other protocols' before it): a
 *     reset from the backend before the handshake completed (refused), or a SYN retransmitted with
 *     no reply yet (no SYN-ACK within the first retransmission timeout, ~1 s: a SYN of a connection
 *     already confirmed, the first one's is not yet), counted once per connection (a ct mark bit).
 * Bytes are not counted by a rule: conntrack accounting (`nf_conntrack_acct=1`, set in the
 * driver's namespace while metrics are on) counts them with the connection, and `read` sums the
 * marked connections (ct-bytes.ts: destroy events for ended ones, a dump for live ones).
 * Nothing runs per packet in this process: counters are read at poll time with one `nft -j list
 * table` and one conntrack dump. Packets arriving on `lo` are skipped in prerouting (the output
 * hook saw them). Connect latency is not measured. Every DNAT'd flow is counted (a CNI port mapping
 * too); `read` keeps the VIPs' counts and deletes the others, and a removed backend's after `retainMs`.
 * A read costs what was counted (issue #26): the programmed (VIP, backend) pairs are laid out once per
 * change of the services (pair-layout.ts) and a read makes an object per counted pair only; a pair
 * never counted is zero without one (`readCounts`; `read` gives the contract's form).
 */
import type { NftRunner } from '../nft/exec.js';
import type { Logger } from '../../common/log.js';
import type { DriverNetMetrics, Service } from '../driver.js';
import type { BackendMetrics } from '../../contracts/netmetrics.js';
import { systemClock, type Clock } from '../../common/clock.js';
import { backendName, vipName } from './counters.js';
import { ConntrackBytes, flowKey } from './ct-bytes.js';
import { sameServices, ServicesLayout, toVipMetrics, type NetCounts, type PairCounts } from './pair-layout.js';

/** ct mark bits this table owns (nothing else in Sextant uses ct mark). */
export const MARK_COUNTED = 0x40000000;
export const MARK_RETRANSMIT = 0x20000000;
export const NFT_MEASURES = { connections: true, failures: true, bytes: true, latency: false };
const ACCT = 'net.netfilter.nf_conntrack_acct';

export const metricsTable = (driverTable: string): string => `${driverTable}_metrics`;

const SETS = ['conns', 'fails'] as const;
type SetKind = (typeof SETS)[number];

/** The whole table, recreated from empty (counters start again). */
export function renderMetricsTable(table: string): string {
  const fam = (v: 4 | 6) => {
    const ip = v === 4 ? 'ip' : 'ip6';
    const orig = `ct original ${ip} daddr . meta l4proto . ${ip} daddr . th dport`;
    const reply = `ct original ${ip} daddr . meta l4proto . ${ip} saddr . th sport`;
    return [
      ...SETS.map((k) => `  set ${k}${v} { typeof ${orig}; flags dynamic; size 65535; counter; }`),
      `  chain conns${v} {`,
      `    ct mark & ${hex(MARK_COUNTED)} == 0 update @conns${v} { ${orig} } ct mark set ct mark | ${hex(MARK_COUNTED)}`,
      '  }',
      `  chain fails${v} {`,
      // A SYN of a confirmed connection with no reply yet is a retransmit (the first one's connection is not confirmed yet).
      `    ct direction original tcp flags & (syn | ack) == syn ct status & (seen-reply | confirmed) == confirmed ct mark & ${hex(MARK_RETRANSMIT)} == 0 update @fails${v} { ${orig} } ct mark set ct mark | ${hex(MARK_RETRANSMIT)} return`,
      `    ct direction reply tcp flags & rst == rst ct status & assured == 0 update @fails${v} { ${reply} }`,
      '  }',
    ];
  };
  return [
    `table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...fam(4),
    ...fam(6),
    '  chain conns {',
    '    meta nfproto ipv4 jump conns4',
    '    meta nfproto ipv6 jump conns6',
    '  }',
    '  chain fails {',
    '    meta nfproto ipv4 jump fails4',
    '    meta nfproto ipv6 jump fails6',
    '  }',
    // NAT chains run for a connection's first packet only (then its NAT is set up): a connection
    // costs one pass, later packets none. Before the driver's masquerade (srcnat - 10).
    '  chain new_post {',
    '    type nat hook postrouting priority srcnat - 20; policy accept;',
    '    ct status dnat jump conns',
    '  }',
    '  chain new_in {',
    '    type nat hook input priority 80; policy accept;',
    '    ct status dnat jump conns',
    '  }',
    // Failures: TCP packets of DNAT'd connections not yet assured (an established one's packets stop at the first rule).
    '  chain pre {',
    '    type filter hook prerouting priority 10; policy accept;',
    '    iif != "lo" meta l4proto tcp ct status & (dnat | assured) == dnat jump fails',
    '  }',
    '  chain out {',
    '    type filter hook output priority 10; policy accept;',
    '    meta l4proto tcp ct status & (dnat | assured) == dnat jump fails',
    '  }',
    '}',
    '',
  ].join('\n');
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

export interface ElementCount {
  /** The VIP's address and protocol (its port is found from the services). */
  vipIp: string;
  protocol: string;
  /** `IP:PORT` */
  backend: string;
  /** The element as nft writes it back (for `delete element`). */
  key: string;
  family: 4 | 6;
  set: SetKind;
  packets: number;
  bytes: number;
}

const PROTO: Record<string, string> = { '6': 'tcp', '17': 'udp', tcp: 'tcp', udp: 'udp' };

/** Elements with their counters from `nft -j list table inet T`; elements it cannot read are skipped. */
export function parseCounters(json: string): ElementCount[] {
  const doc = JSON.parse(json) as { nftables?: Array<Record<string, unknown>> };
  const out: ElementCount[] = [];
  for (const item of doc.nftables ?? []) {
    const set = item.set as { name?: string; elem?: unknown[] } | undefined;
    const m = set?.name && /^(conns|fails)(4|6)$/.exec(set.name);
    if (!m || !set?.elem) continue;
    for (const e of set.elem) {
      const el = (e as { elem?: { val?: { concat?: unknown[] }; counter?: { packets?: number; bytes?: number } } }).elem;
      const parts = el?.val?.concat;
      if (!parts || parts.length !== 4) continue;
      const [vip, proto, bip, bport] = parts.map((p) => String(p));
      const protocol = PROTO[proto!];
      if (!protocol) continue;
      out.push({
        vipIp: vip!,
        protocol,
        backend: backendName({ ip: bip!, port: Number(bport) }),
        key: `${vip} . ${protocol} . ${bip} . ${bport}`,
        family: m[2] === '4' ? 4 : 6,
        set: m[1] as SetKind,
        packets: el?.counter?.packets ?? 0,
        bytes: el?.counter?.bytes ?? 0,
      });
    }
  }
  return out;
}

export interface NftCountersOptions {
  clock?: Clock;
  retainMs?: number;
  /**
   * Bytes from conntrack (ct-bytes.ts): the namespace file the netlink sockets open in and the
   * sysctl access there (`nf_conntrack_acct`). Absent: no bytes (`measures.bytes` false).
   */
  conntrack?: {
    nsPath?: string;
    /** The destroy-event socket's filter (ct-bytes.ts): default the mark filter; false: none (benchmarks' "before"). */
    eventFilter?: Buffer | false;
    sysctl: { read(key: string): Promise<string | undefined>; write(key: string, value: string): Promise<void> };
  };
  log?: Logger;
}

/** The metrics table of one nftables driver: install, read, remove. */
export class NftCounters {
  readonly table: string;
  since: number;
  /**
   * Flow key (vip + backend) -> when a read last found it among the programmed services, and the VIP
   * name (`IP:PORT/PROTO`) its counts go to: only for flows that had counts or left the programmed
   * services within `retainMs` (a key per programmed backend before: 30,000 at 10,000 idle VIPs x 3).
   */
  private readonly seen = new Map<string, number>();
  private readonly names = new Map<string, string>();
  /** The services of the last read and its time: the flows that leave are known from them. */
  private last?: { live: Service[]; at: number };
  /** The programmed services' pairs, kept across reads while the services stay the same. */
  private layout?: ServicesLayout;
  private readonly clock: Clock;
  private readonly retainMs: number;
  private ct?: ConntrackBytes;
  /** Why bytes are not counted (said once per reason). */
  private bytesOff?: string;
  /** The event filter could not be attached (said once). */
  private filterOffSaid = false;
  /** `nf_conntrack_acct` as found before install set it (restored by remove and close). */
  private acctBefore?: string;
  /** The bytes each (VIP, backend) last reported: a figure never goes down (a flow ending between drain and dump). */
  private readonly reported = new Map<string, number>();

  constructor(
    private readonly run: NftRunner,
    driverTable: string,
    private readonly opts: NftCountersOptions = {},
  ) {
    this.table = metricsTable(driverTable);
    this.clock = opts.clock ?? systemClock;
    this.retainMs = opts.retainMs ?? 600_000;
    this.since = this.clock.now();
  }

  /** Create the table from empty and turn on conntrack accounting: counters start again (`since` moves). */
  async install(): Promise<void> {
    await this.run(['-f', '-'], renderMetricsTable(this.table));
    this.since = this.clock.now();
    this.seen.clear();
    this.names.clear();
    this.last = undefined;
    this.reported.clear();
    this.ct?.close();
    this.ct = undefined;
    const c = this.opts.conntrack;
    if (!c) return;
    try {
      // The table's ct expressions loaded nf_conntrack, so the key exists now.
      const acct = await c.sysctl.read(ACCT);
      if (acct === undefined) throw new Error(`${ACCT} does not exist (nf_conntrack not loaded)`);
      if (acct !== '1') {
        await c.sysctl.write(ACCT, '1');
        this.acctBefore ??= acct;
      }
      this.ct = ConntrackBytes.open({
        nsPath: c.nsPath,
        mark: MARK_COUNTED,
        onOverflow: (n) => this.opts.log?.warn('vip_metrics_conntrack_events_lost', { overflows: n, message: 'the kernel dropped conntrack destroy events: bytes of connections that ended then are missing' }),
        onError: (e) => this.opts.log?.warn('vip_metrics_conntrack_drain_failed', { err: e }),
        eventFilter: c.eventFilter,
        onFilterOff: (reason) => {
          if (this.filterOffSaid) return;
          this.filterOffSaid = true;
          this.opts.log?.warn('vip_metrics_conntrack_filter_off', { reason, message: 'the conntrack event filter could not be attached: the agent reads every connection\'s destroy event, VIP or not' });
        },
      });
      this.bytesOff = undefined;
    } catch (e) {
      this.noBytes((e as Error).message);
    }
  }

  /** Metrics off: remove a table left by an earlier run (nothing is counted) and put accounting back as found. */
  async remove(): Promise<void> {
    await this.run(['-f', '-'], `table inet ${this.table}\ndelete table inet ${this.table}\n`);
    await this.close();
  }

  /** Stop reading conntrack; `nf_conntrack_acct` back to what install found. The table stays. */
  async close(): Promise<void> {
    this.ct?.close();
    this.ct = undefined;
    const before = this.acctBefore;
    if (before === undefined || !this.opts.conntrack) return;
    this.acctBefore = undefined;
    await this.opts.conntrack.sysctl.write(ACCT, before).catch((e: Error) => this.opts.log?.warn('vip_metrics_acct_restore_failed', { err: e }));
  }

  /** The conntrack event socket: whether it has the filter, how many events it read (undefined: bytes off). */
  get conntrackEvents(): { filtered: boolean; eventsRead: number } | undefined {
    return this.ct && { filtered: this.ct.filtered, eventsRead: this.ct.eventsRead };
  }

  private noBytes(why: string): void {
    if (why !== this.bytesOff) this.opts.log?.warn('vip_metrics_bytes_off', { reason: why, message: 'VIP bytes are not counted' });
    this.bytesOff = why;
  }

  /** Read every counter; counts of no programmed VIP are deleted (after `retainMs` for removed backends). */
  async read(live: Service[]): Promise<DriverNetMetrics> {
    const c = await this.readCounts(live);
    return { measures: c.measures, since: c.since, vips: toVipMetrics(c) };
  }

  /**
   * `read` in layout form (pair-layout.ts): the programmed pairs' layout is kept across reads (made
   * again when the services change), and a read makes an object per counted pair only.
   */
  async readCounts(live: Service[]): Promise<NetCounts> {
    let json: string;
    try {
      json = await this.run(['-j', 'list', 'table', 'inet', this.table]);
    } catch (e) {
      // Gone (someone flushed the ruleset): counting starts again. Any other failure is the caller's.
      if (!/No such file or directory/.test((e as Error).message)) throw e;
      await this.install();
      json = await this.run(['-j', 'list', 'table', 'inet', this.table]);
    }
    let bytes: Map<string, number> | undefined;
    try {
      bytes = this.ct?.read();
    } catch (e) {
      this.opts.log?.warn('vip_metrics_conntrack_read_failed', { err: e }); // the figures stay where they were
    }
    const withBytes = this.ct !== undefined;
    const now = this.clock.now();
    const base = this.layoutOf(live);
    this.rememberLeft(live, base);
    for (const [k, at] of this.seen)
      if (now - at > this.retainMs) {
        this.seen.delete(k);
        this.names.delete(k);
      }
    const counts = new Map<number, PairCounts>();
    /** Counted pairs not in the programmed layout (a removed backend within retainMs), by `VIP backend`. */
    const extra = new Map<string, { vip: string; backend: string; c: PairCounts }>();
    const entry = (vip: string, backend: string): PairCounts => {
      const v = base.layout.vipIndex(vip);
      const p = base.layout.pairIndex(v, backend);
      if (p >= 0) {
        let c = counts.get(p);
        if (!c) counts.set(p, (c = { vip: v, connections: 0, failures: 0, bytes: 0 }));
        return c;
      }
      const k = `${vip} ${backend}`;
      let x = extra.get(k);
      if (!x) extra.set(k, (x = { vip, backend, c: { vip: -1, connections: 0, failures: 0, bytes: 0 } }));
      return x.c;
    };
    const counted = (id: string, vipIp: string, protocol: string, backend: string) => {
      const svc = base.flowService(live, vipIp, protocol, backend);
      if (svc >= 0) {
        const name = base.layout.vips[base.layout.serviceVip![svc]!]!;
        // A flow keeps the VIP it was counted for while that VIP is programmed.
        const held = this.names.get(id);
        const vip = held !== undefined && base.layout.vipIndex(held) >= 0 ? held : name;
        this.seen.set(id, now);
        this.names.set(id, vip);
        return vip;
      }
      const at = this.seen.get(id);
      const vip = this.names.get(id);
      return at === undefined || vip === undefined || now - at > this.retainMs ? undefined : vip;
    };
    const stale: ElementCount[] = [];
    for (const e of parseCounters(json)) {
      const vip = counted(flowKey(e.vipIp, e.protocol, e.backend), e.vipIp, e.protocol, e.backend);
      if (!vip) {
        stale.push(e);
        continue;
      }
      const b = entry(vip, e.backend);
      if (e.set === 'conns') b.connections += e.packets;
      else b.failures += e.packets;
    }
    for (const [id, n] of bytes ?? []) {
      const [vipIp, protocol, backend] = id.split(' ') as [string, string, string];
      const vip = counted(id, vipIp, protocol, backend);
      if (!vip) {
        this.ct?.forget(id);
        continue;
      }
      entry(vip, backend).bytes += n;
    }
    if (withBytes) {
      // Only figures above zero are remembered (zero is the floor anyway): a backend that never
      // carried a byte costs no key here (30,000 keys at 10,000 VIPs x 3 idle backends before).
      const keep = new Set<string>();
      const floor = (vip: string, backend: string, c: PairCounts) => {
        if (!c.bytes && !this.reported.size) return;
        const k = `${vip} ${backend}`;
        const before = this.reported.get(k);
        if (before === undefined && !c.bytes) return;
        c.bytes = Math.max(c.bytes, before ?? 0);
        this.reported.set(k, c.bytes);
        keep.add(k);
      };
      counts.forEach((c, p) => floor(base.layout.vips[c.vip]!, base.layout.backends[p]!, c));
      extra.forEach((x) => floor(x.vip, x.backend, x.c));
      // A pair reported before and programmed still, with nothing counted this time: its figure stays.
      for (const [k, before] of this.reported) {
        if (keep.has(k)) continue;
        const at = k.indexOf(' ');
        const v = base.layout.vipIndex(k.slice(0, at));
        const p = base.layout.pairIndex(v, k.slice(at + 1));
        if (p < 0) {
          this.reported.delete(k);
          continue;
        }
        counts.set(p, { vip: v, connections: 0, failures: 0, bytes: before });
      }
    }
    this.last = { live, at: now };
    if (stale.length) await this.prune(stale);
    const measures = { ...NFT_MEASURES, bytes: withBytes };
    if (!extra.size) return { measures, since: this.since, layout: base.layout, counts };
    // Retained pairs: a layout with them, kept while the same ones are reported.
    const sig = [...extra.keys()].sort().join('\n');
    if (base.extra?.sig !== sig) base.extra = { sig, layout: base.layout.withExtra([...extra.values()]) };
    const layout = base.extra.layout;
    const moved = new Map<number, PairCounts>();
    counts.forEach((c, p) => {
      const v = layout.vipIndex(base.layout.vips[c.vip]!);
      c.vip = v;
      moved.set(layout.pairIndex(v, base.layout.backends[p]!), c);
    });
    extra.forEach((x) => {
      x.c.vip = layout.vipIndex(x.vip);
      moved.set(layout.pairIndex(x.c.vip, x.backend), x.c);
    });
    return { measures, since: this.since, layout, counts: moved };
  }

  /** The layout of the programmed services, made again only when they change (the same objects in the same order: kept). */
  private layoutOf(live: Service[]): ServicesLayout {
    const had = this.layout;
    if (had && (had.live === live || sameServices(had.live, live))) {
      had.live = live;
      return had;
    }
    return (this.layout = new ServicesLayout(live));
  }

  /**
   * The flows of the last read's services that are not programmed now: kept from that read's time
   * (their counts are reported for `retainMs` after), under the VIP they were counted for, else the
   * last read's lowest port. Services kept are the same objects (the reconciler reuses them), so an
   * unchanged list costs one comparison.
   */
  private rememberLeft(live: Service[], now: ServicesLayout): void {
    const last = this.last;
    if (!last || last.live === live) return;
    const kept = new Set(live);
    last.live.forEach((s) => {
      if (kept.has(s)) return;
      for (const b of s.backends) {
        const bn = backendName(b);
        if (now.flowService(live, s.vip, s.protocol, bn) >= 0) continue;
        const id = flowKey(s.vip, s.protocol, bn);
        if ((this.seen.get(id) ?? -Infinity) < last.at) this.seen.set(id, last.at);
        if (!this.names.has(id)) this.names.set(id, vipName(s));
      }
    });
  }

  /** Flows with counts or retained (tests: no key per programmed backend). */
  get heldFlows(): number {
    return this.seen.size;
  }

  private async prune(stale: ElementCount[]): Promise<void> {
    const lines = stale.map((e) => `delete element inet ${this.table} ${e.set}${e.family} { ${e.key} }`);
    await this.run(['-f', '-'], lines.join('\n') + '\n').catch(() => undefined); // an element gone meanwhile: the next read retries
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A VIP's backends by name, in place: insertion sort for a few (what a VIP has), Array sort beyond. */
export function sortByBackend(list: BackendMetrics[]): BackendMetrics[] {
  if (list.length > 16) return list.sort((a, b) => cmp(a.backend, b.backend));
  for (let i = 1; i < list.length; i++) {
    const x = list[i]!;
    let j = i - 1;
    for (; j >= 0 && list[j]!.backend > x.backend; j--) list[j + 1] = list[j]!;
    list[j + 1] = x;
  }
  return list;
}
