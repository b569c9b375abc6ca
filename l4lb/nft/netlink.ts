/**
 * Element writes and reads over nfnetlink, skipping nft's parser and process: the driver's element
 * changes (an ElementDelta: whole services and hairpin addresses, encoded straight to bytes by
 * encode.ts, and single elements in text form) become NFT_MSG_NEWSETELEM / DELSETELEM messages in
 * one NFNL batch (one transaction, as one `nft -f` line is), and the elements are read back with
 * NFT_MSG_GETSETELEM dumps, as text or as compact bytes. The table's skeleton (chains, maps, sets)
 * is still created from text by nft, but for the slot-count encoding's two `services` rules, which
 * nft cannot express: they follow in a batch of their own (`writeServicesRules`, rules.ts). The socket is the native module native/nfnetlink.c (opened in the driver's network namespace).
 */
import { constants } from 'node:os';
import { loadNative } from '../../common/native.js';
import { DriverError } from '../errors.js';
import { FAMILIES, type Family, type SvcData } from './names.js';
import { emptyElements, type ElementDelta, type Elements } from './ruleset.js';
import { ElementIndex } from './element-index.js';
import { LAYOUTS, LIST_ELEM, NLA_F_NESTED, Writer, encodeHairpin, encodeRaw, encodeRawKey, encodeService, layoutsFor, putValue, putVerdict, type ElementSink, type Field, type Layout } from './encode.js';
import { NLM_F_APPEND, encodeServicesRule, ruleComment } from './rules.js';
import { batchError, type Sent } from './batch-error.js';

export { NetlinkBatchError } from './batch-error.js';
import { attrs, eachAttr, elementText, nlMessages as messages } from './decode.js';

/** The native module's calls (tests may hand `NftNetlink.open` a fake). */
export interface NfnetlinkAddon {
  /**
   * groups: multicast groups to join (bitmask); rcvbuf: receive buffer bytes (default 8 MiB);
   * filter: a classic BPF program (struct sock_filter bytes) attached before the groups are joined.
   */
  open(nsPath: string | null, groups?: number, rcvbuf?: number, filter?: Buffer): number;
  /** What is queued, without waiting; and how many times the kernel dropped messages (ENOBUFS). */
  drain(fd: number): [Buffer, number];
  batch(fd: number, buf: Buffer): Buffer;
  dump(fd: number, buf: Buffer, timeoutMs: number): Buffer;
  close(fd: number): void;
}

let addon: NfnetlinkAddon | null | undefined;

/** The native module, or undefined when it is not built (the driver then writes through nft). */
export function nativeNfnetlink(): NfnetlinkAddon | undefined {
  if (addon === undefined) addon = loadNative<NfnetlinkAddon>('nfnetlink') ?? null;
  return addon ?? undefined;
}

// netlink / nfnetlink / nf_tables constants (uapi headers).
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_CREATE = 0x400;
const NLM_F_ACK_TLVS = 0x200;
const NLM_F_DUMP_INTR = 0x10;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_GETSETELEM = 13;
const NFT_MSG_DELSETELEM = 14;
const NFPROTO_INET = 1;
const LIST_TABLE = 1;
const LIST_SET = 2;
const LIST_ELEMENTS = 3;
const ELEM_KEY = 1;
const ELEM_DATA = 2;
const NLMSGERR_ATTR_MSG = 1;
const NLMSGERR_ATTR_OFFS = 2;
const nftType = (msg: number) => (NFNL_SUBSYS_NFTABLES << 8) | msg;

/** A message's element list stays under the 64 KiB an attribute length can say. */
const MAX_ELEMENTS_BYTES = 60_000;

export { layouts } from './encode.js';

const ERRNO_NAME = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** The messages of one verb on one set: a new one starts when the element list nears its limit. */
class SetMessages {
  readonly w: Writer;
  private msg = -1;
  private list = -1;
  elements = 0;
  constructor(
    readonly verb: 'add' | 'delete',
    readonly set: string,
    private readonly table: string,
    private readonly nextSeq: () => number,
    readonly sent: Sent[],
    size: number,
  ) {
    this.w = new Writer(size);
  }
  /** Start one element; returns its attribute's offset. */
  element(): number {
    if (this.msg < 0 || this.w.len - this.list >= MAX_ELEMENTS_BYTES) this.open();
    this.sent[this.sent.length - 1]!.offsets.push(this.w.len - this.msg);
    this.elements++;
    return this.w.begin(LIST_ELEM | NLA_F_NESTED);
  }
  private open(): void {
    this.close();
    const seq = this.nextSeq();
    const type = nftType(this.verb === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    this.msg = this.w.beginMsg(type, NLM_F_REQUEST | (this.verb === 'add' ? NLM_F_CREATE : 0), seq, NFPROTO_INET, 0);
    this.w.string(LIST_TABLE, this.table);
    this.w.string(LIST_SET, this.set);
    this.list = this.w.begin(LIST_ELEMENTS | NLA_F_NESTED);
    this.sent.push({ seq, kind: 'element', verb: this.verb, name: this.set, at: this.msg, offsets: [] });
  }
  close(): void {
    if (this.msg < 0) return;
    this.w.endAttr(this.list);
    this.w.endMsg(this.msg);
    this.msg = -1;
  }
}

/** Elements of one verb, each set's into its own messages. */
class VerbSink implements ElementSink {
  w: Writer = new Writer(0);
  readonly sets = new Map<string, SetMessages>();
  private cur?: SetMessages;
  constructor(
    private readonly verb: 'add' | 'delete',
    private readonly table: string,
    private readonly nextSeq: () => number,
    private readonly sizeHint: number,
  ) {}
  messages(set: string): SetMessages {
    if (this.cur?.set === set) return this.cur;
    let m = this.sets.get(set);
    if (!m) {
      if (!LAYOUTS.has(set)) throw new DriverError('nftables', `netlink: no layout for set ${set}`);
      this.sets.set(set, (m = new SetMessages(this.verb, set, this.table, this.nextSeq, [], this.sizeHint)));
    }
    this.cur = m;
    return m;
  }
  element(set: string): number {
    const m = this.messages(set);
    this.w = m.w;
    return m.element();
  }
  end(at: number): void {
    this.w.endAttr(at);
  }
}

export class NftNetlink {
  private fd: number;
  private seq = Math.floor(Date.now() / 1000) & 0x7fffffff;
  /** The layouts of the table's maps and sets (its encoding's: what `svc4`/`svc6` hold). */
  private readonly layouts: Map<string, Layout>;

  private constructor(
    private readonly addon: NfnetlinkAddon,
    fd: number,
    readonly table: string,
    readonly svcData: SvcData,
  ) {
    this.fd = fd;
    this.layouts = layoutsFor(svcData);
  }

  /**
   * Opens the socket in the namespace at `nsPath` (none: this one); undefined when the native
   * module is missing. `svcData`: the table's encoding (what its elements are read back as);
   * `socket`: the calls to use instead of the native module's (a test's fake kernel).
   */
  static open(table: string, nsPath?: string, svcData: SvcData = 'verdict', socket?: NfnetlinkAddon): NftNetlink | undefined {
    const a = socket ?? nativeNfnetlink();
    if (!a) return undefined;
    try {
      return new NftNetlink(a, a.open(nsPath ?? null), table, svcData);
    } catch (e) {
      throw new DriverError('nftables', `cannot open a netfilter netlink socket${nsPath ? ` in ${nsPath}` : ''}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Sequence numbers as the kernel echoes them (u32). */
  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) >>> 0;
    return s;
  }

  close(): void {
    if (this.fd < 0) return;
    this.addon.close(this.fd);
    this.fd = -1;
  }

  /** Encode `delta` as one batch (throws naming a malformed element before anything is sent). */
  encode(delta: ElementDelta): { buf: Buffer; sent: Sent[]; elements: number } {
    const hint = Math.min(4 << 20, (delta.ops || 1) * 24);
    const sinks = { delete: new VerbSink('delete', this.table, () => this.nextSeq(), hint), add: new VerbSink('add', this.table, () => this.nextSeq(), hint) };
    const beginSeq = this.nextSeq();
    const { bulk } = delta;
    for (const [verb, services, hairpin] of [
      ['delete', bulk.del, bulk.delHairpin],
      ['add', bulk.add, bulk.addHairpin],
    ] as const) {
      const sink = sinks[verb];
      for (const s of services) {
        try {
          encodeService(sink, s, bulk.maxSlots, verb === 'add', delta.svcData);
        } catch (e) {
          throw new DriverError('nftables', `netlink: cannot encode the elements of service ${s.key}: ${(e as Error).message}`);
        }
      }
      for (const ip of hairpin) {
        try {
          encodeHairpin(sink, ip);
        } catch (e) {
          throw new DriverError('nftables', `netlink: cannot encode the hairpin element of backend ${ip}: ${(e as Error).message}`);
        }
      }
    }
    for (const [set, key] of bulk.rawDel) encodeRawKey(sinks.delete, set, key);
    for (const [set, payload] of bulk.rawAdd) encodeRaw(sinks.add, set, payload);
    const layouts = layoutsFor(delta.svcData);
    delta.eachText((verb, set, items, values) => {
      const sink = sinks[verb];
      const layout = layouts.get(set);
      if (!layout) throw new DriverError('nftables', `netlink: no layout for set ${set}`);
      const withData = verb === 'add' && layout.data !== 'none';
      for (let i = 0; i < items.length; i++) {
        const key = items[i]!;
        const value = withData ? (values?.[i] ?? '') : '';
        const el = sink.element(set);
        const w = sink.w;
        try {
          if (withData && value === '') throw new Error('no value');
          putValue(w, ELEM_KEY, layout.key, key);
          if (value !== '') {
            if (layout.data === 'verdict') putVerdict(w, value);
            else putValue(w, ELEM_DATA, layout.data as Field[], value);
          }
        } catch (e) {
          throw new DriverError('nftables', `netlink: cannot encode element ${set} { ${verb === 'add' && value !== '' ? `${key} : ${value}` : key} }: ${(e as Error).message}`);
        }
        sink.end(el);
      }
    });
    // Assemble: begin, every delete message, every add message, end.
    const parts: SetMessages[] = [...sinks.delete.sets.values(), ...sinks.add.sets.values()].filter((m) => m.elements > 0);
    let total = 40;
    for (const m of parts) {
      m.close();
      total += m.w.len;
    }
    const out = Buffer.allocUnsafe(total);
    const w = new Writer(0);
    w.buf = out;
    w.endMsg(w.beginMsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, beginSeq, 0, NFNL_SUBSYS_NFTABLES));
    const sent: Sent[] = [];
    let elements = 0;
    for (const m of parts) {
      const base = w.len;
      m.w.buf.copy(out, base, 0, m.w.len);
      w.len += m.w.len;
      elements += m.elements;
      for (const s of m.sent) {
        s.at += base;
        s.buf = out;
        sent.push(s);
      }
    }
    // The last message asks for an ack: its arrival says the batch ran to its end.
    const last = sent[sent.length - 1];
    if (last) out.writeUInt16LE(out.readUInt16LE(last.at + 6) | NLM_F_ACK, last.at + 6);
    w.endMsg(w.beginMsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, this.nextSeq(), 0, NFNL_SUBSYS_NFTABLES));
    return { buf: out.subarray(0, w.len), sent, elements };
  }

  /** Write `ops` as one transaction; rejects with NetlinkBatchError naming the first element the kernel refused. */
  write(ops: ElementDelta, sending?: (elements: number, bytes: number, batch: Buffer) => void): { elements: number; bytes: number } {
    const { buf, sent, elements } = this.encode(ops);
    if (!sent.length) return { elements: 0, bytes: 0 };
    sending?.(elements, buf.length, buf);
    this.send(buf, sent, `${elements} elements`, layoutsFor(ops.svcData));
    return { elements, bytes: buf.length };
  }

  /**
   * The slot-count encoding's `services` rules (rules.ts), appended to the table's `services`
   * chain in one transaction; rejects naming the rule the kernel refused.
   */
  writeServicesRules(sending?: (bytes: number, batch: Buffer) => void): void {
    const w = new Writer();
    w.endMsg(w.beginMsg(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, this.nextSeq(), 0, NFNL_SUBSYS_NFTABLES));
    const sent: Sent[] = [];
    FAMILIES.forEach((f, i) => {
      const seq = this.nextSeq();
      sent.push({ seq, kind: 'rule', verb: 'add', name: ruleComment(f), at: w.len, offsets: [] });
      encodeServicesRule(w, this.table, f, seq, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | (i === FAMILIES.length - 1 ? NLM_F_ACK : 0));
    });
    w.endMsg(w.beginMsg(NFNL_MSG_BATCH_END, NLM_F_REQUEST, this.nextSeq(), 0, NFNL_SUBSYS_NFTABLES));
    const buf = w.buf.subarray(0, w.len);
    for (const s of sent) s.buf = buf;
    sending?.(buf.length, buf);
    this.send(buf, sent, 'the services rules', this.layouts);
  }

  /** Sends a batch whose last message asks for an ack; throws naming what the kernel refused. */
  private send(buf: Buffer, sent: Sent[], what: string, layouts: Map<string, Layout>): void {
    let replies: Buffer;
    try {
      replies = this.addon.batch(this.fd, buf);
    } catch (e) {
      throw new DriverError('nftables', `netlink batch of ${what} not sent: ${(e as Error).message}`, { cause: e });
    }
    const bySeq = new Map(sent.map((s) => [s.seq, s]));
    const lastSeq = sent[sent.length - 1]!.seq;
    let acked = false;
    for (const m of messages(replies)) {
      if (m.type !== NLMSG_ERROR) continue;
      const err = -m.body.readInt32LE(0);
      const seq = m.body.readUInt32LE(4 + 8);
      if (err === 0) {
        if (seq === lastSeq) acked = true;
        continue;
      }
      let detail = '';
      let offset = -1;
      if (m.flags & NLM_F_ACK_TLVS) {
        for (const [type, v] of attrs(m.body, 4 + 16)) {
          if (type === NLMSGERR_ATTR_MSG) detail = v.toString('utf8').replace(/\0+$/, '');
          if (type === NLMSGERR_ATTR_OFFS) offset = v.readUInt32LE(0);
        }
      }
      const name = ERRNO_NAME.get(err) ?? `errno ${err}`;
      throw batchError(name, seq, bySeq.get(seq), offset, layouts, detail);
    }
    if (!acked) throw new DriverError('nftables', `netlink batch of ${what}: no acknowledgement from the kernel`);
  }

  /** Every element of every map and set of the table, in the text form the renderer writes. */
  readElements(timeoutMs = 30_000): Elements {
    const out = emptyElements();
    this.eachDumped(timeoutMs, (set, layout, buf, start, end) => {
      const [k, v] = elementText(buf.subarray(start, end), layout);
      if (k) out.get(set)!.set(k, v);
    });
    return out;
  }

  /** Every element as byte ranges of the dump's replies, per set, found by key bytes (the reconcile's byte diff). */
  readElementIndex(timeoutMs = 30_000): Map<string, ElementIndex> {
    const out = new Map<string, ElementIndex>();
    for (const set of this.layouts.keys()) out.set(set, this.readSetIndex(set, timeoutMs));
    return out;
  }

  /** One set's elements as byte ranges of its dump's replies (a reconcile holds one set's dump at a time). */
  readSetIndex(set: string, timeoutMs = 30_000): ElementIndex {
    const replies = this.dumpChecked(set, timeoutMs);
    const each = (visit: (b: number, s: number, e: number) => void) => {
      for (const m of messages(replies)) {
        if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) continue;
        // Offsets are the replies' own: m.body starts 16 bytes past the message's start.
        const base = m.body.byteOffset - replies.byteOffset;
        eachAttr(m.body, 4, m.body.length, (type, start, end) => {
          if (type === LIST_ELEMENTS) eachAttr(m.body, start, end, (_t, s, e) => visit(0, base + s, base + e));
        });
      }
    };
    return new ElementIndex([replies], each);
  }

  /** Dump each set; `visit` gets each element's LIST_ELEM payload as buf[start, end) (the replies). */
  private eachDumped(timeoutMs: number, visit: (set: string, layout: Layout, buf: Buffer, start: number, end: number) => void): void {
    for (const [set, layout] of this.layouts) {
      for (const m of messages(this.dumpChecked(set, timeoutMs))) {
        if (m.type === NLMSG_DONE || m.type === NLMSG_ERROR) continue;
        const b = m.body;
        eachAttr(b, 4, b.length, (type, start, end) => {
          if (type === LIST_ELEMENTS) eachAttr(b, start, end, (_t, s, e) => visit(set, layout, b, s, e));
        });
      }
    }
  }

  /** One set's dump replies, read again when the set changed during the dump; throws on an error reply (with `errno`). */
  private dumpChecked(set: string, timeoutMs: number): Buffer {
    // A set changed during its dump says so (NLM_F_DUMP_INTR): read it again.
    let replies = this.dumpSet(set, timeoutMs);
    for (let tries = 1; tries < 5 && [...messages(replies)].some((m) => m.flags & NLM_F_DUMP_INTR); tries++) replies = this.dumpSet(set, timeoutMs);
    for (const m of messages(replies)) {
      if (m.type === NLMSG_DONE) break;
      if (m.type !== NLMSG_ERROR) continue;
      const err = -m.body.readInt32LE(0);
      if (err === 0) continue;
      const e = new DriverError('nftables', `netlink dump of ${set}: ${ERRNO_NAME.get(err) ?? err}`);
      (e as { errno?: string }).errno = ERRNO_NAME.get(err);
      throw e;
    }
    return replies;
  }

  private dumpSet(set: string, timeoutMs: number): Buffer {
    const w = new Writer();
    const msg = w.beginMsg(nftType(NFT_MSG_GETSETELEM), NLM_F_REQUEST | NLM_F_DUMP, this.nextSeq(), NFPROTO_INET, 0);
    w.string(LIST_TABLE, this.table);
    w.string(LIST_SET, set);
    w.endMsg(msg);
    try {
      return this.addon.dump(this.fd, w.buf.subarray(0, w.len), timeoutMs);
    } catch (e) {
      throw new DriverError('nftables', `netlink dump of ${set} failed: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** The namespace file a runner's options point at: `netns` NAME, or a `nsenter --net=PATH` / `-t PID -n` prefix. */
export function namespacePath(opts: { netns?: string; prefix?: string[] }): string | undefined | null {
  if (opts.prefix) {
    const p = opts.prefix;
    if (p[0] !== 'nsenter') return null;
    const net = p.find((a) => a.startsWith('--net='));
    if (net && p.length === 2) return net.slice('--net='.length);
    const t = p.indexOf('-t');
    if (t >= 0 && p.length === 4 && p.includes('-n') && /^\d+$/.test(p[t + 1] ?? '')) return `/proc/${p[t + 1]}/ns/net`;
    return null; // some other prefix: netlink cannot follow it
  }
  if (opts.netns) return `/run/netns/${opts.netns}`;
  return undefined;
}

export type { Family };
