/**
 * The `services` rules of the slot-count encoding, written over nfnetlink (nft 1.0.6 cannot
 * express them in text or JSON): per family, the service's slot count is looked up in a data map
 * (`svc4`: `VIP . proto . port : mark`, 0 = no backend) and used as the key of a constant verdict
 * map (`picks`: `0 : goto no_backend, n : goto pick<n>`, written once with the table). A VIP added
 * or a weight changed then writes data elements only, and the kernel never validates the table's
 * chains at commit for it (a `goto` element added to a verdict map makes it walk every element).
 *
 * The count travels through the packet's mark, because nft can list a lookup keyed by `meta mark`
 * but not one keyed by another lookup's result (nft asserts on the zero-length map expression);
 * the mark the packet had is saved in a register first and put back before the verdict, so the
 * rule leaves the mark as it found it. `nft list` prints it as
 * `meta mark set ip daddr . meta l4proto . th dport map @svc4 meta mark set meta mark meta mark vmap @picks`
 * (the middle statement is the restore: nft names the saved register by what was loaded into it).
 * That text parses, but `nft -f` of it would not restore the mark: the table is the driver's, not
 * for `nft list > file; nft -f file`.
 */
import { NLA_F_NESTED, Writer } from './encode.js';
import { PICK_MAP, SERVICES_CHAIN, svcMap, type Family } from './names.js';

const NFT_MSG_NEWRULE = 6;
const NFTA_RULE_TABLE = 1;
const NFTA_RULE_CHAIN = 2;
const NFTA_RULE_EXPRESSIONS = 4;
const NFTA_RULE_USERDATA = 7;
const NFTA_LIST_ELEM = 1;
const NFTA_EXPR_NAME = 1;
const NFTA_EXPR_DATA = 2;
const NFTNL_UDATA_RULE_COMMENT = 0;
// Expression attributes (uapi nf_tables.h).
const META_DREG = 1;
const META_KEY = 2;
const META_SREG = 3;
const NFT_META_MARK = 3;
const NFT_META_NFPROTO = 15;
const NFT_META_L4PROTO = 16;
const CMP_SREG = 1;
const CMP_OP = 2;
const CMP_DATA = 3;
const NFT_CMP_EQ = 0;
const DATA_VALUE = 1;
const PAYLOAD_DREG = 1;
const PAYLOAD_BASE = 2;
const PAYLOAD_OFFSET = 3;
const PAYLOAD_LEN = 4;
const NFT_PAYLOAD_NETWORK_HEADER = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER = 2;
const LOOKUP_SET = 1;
const LOOKUP_SREG = 2;
const LOOKUP_DREG = 3;
const NFPROTO_IPV4 = 2;
const NFPROTO_IPV6 = 10;
/** 32-bit registers: NFT_REG32_00 is 8; NFT_REG_VERDICT 0. */
const REG_KEY = 8;
const REG_SAVED_MARK = 16;
const REG_VERDICT = 0;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
export const NFPROTO_INET = 1;
export const nftMsg = (msg: number) => (10 << 8) | msg;

/** The rule comments (what reconcile checks the kernel's rules against). */
export const ruleComment = (f: Family) => `vmap${f}`;

function expr(w: Writer, name: string, body: () => void): void {
  const e = w.begin(NFTA_LIST_ELEM | NLA_F_NESTED);
  w.string(NFTA_EXPR_NAME, name);
  const d = w.begin(NFTA_EXPR_DATA | NLA_F_NESTED);
  body();
  w.endAttr(d);
  w.endAttr(e);
}

const metaLoad = (w: Writer, key: number, dreg: number) =>
  expr(w, 'meta', () => {
    w.u32be(META_KEY, key);
    w.u32be(META_DREG, dreg);
  });
const metaSetMark = (w: Writer, sreg: number) =>
  expr(w, 'meta', () => {
    w.u32be(META_KEY, NFT_META_MARK);
    w.u32be(META_SREG, sreg);
  });
const payload = (w: Writer, base: number, offset: number, len: number, dreg: number) =>
  expr(w, 'payload', () => {
    w.u32be(PAYLOAD_DREG, dreg);
    w.u32be(PAYLOAD_BASE, base);
    w.u32be(PAYLOAD_OFFSET, offset);
    w.u32be(PAYLOAD_LEN, len);
  });
const lookup = (w: Writer, set: string, sreg: number, dreg: number) =>
  expr(w, 'lookup', () => {
    w.string(LOOKUP_SET, set);
    w.u32be(LOOKUP_SREG, sreg);
    w.u32be(LOOKUP_DREG, dreg);
  });

/**
 * One family's rule, appended to the `services` chain of `table` (the message, with `flags`). The
 * key `daddr . l4proto . dport` fills registers 8.. as nft lays out a concatenation (v4: 8, 9,
 * 10; v6: 8-11, 12, 13); the mark is saved in register 16, past either key.
 */
export function encodeServicesRule(w: Writer, table: string, f: Family, seq: number, flags: number): void {
  const m = w.beginMsg(nftMsg(NFT_MSG_NEWRULE), flags, seq, NFPROTO_INET, 0);
  w.string(NFTA_RULE_TABLE, table);
  w.string(NFTA_RULE_CHAIN, SERVICES_CHAIN);
  const list = w.begin(NFTA_RULE_EXPRESSIONS | NLA_F_NESTED);
  // meta nfproto ipv4|ipv6 (the dependency nft adds for `ip daddr` in an inet table)
  metaLoad(w, NFT_META_NFPROTO, REG_KEY);
  expr(w, 'cmp', () => {
    w.u32be(CMP_SREG, REG_KEY);
    w.u32be(CMP_OP, NFT_CMP_EQ);
    const d = w.begin(CMP_DATA | NLA_F_NESTED);
    const v = w.begin(DATA_VALUE);
    w.reserve(1);
    w.buf[w.len++] = f === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    w.endAttr(v);
    w.endAttr(d);
  });
  const ipLen = f === 4 ? 4 : 16;
  payload(w, NFT_PAYLOAD_NETWORK_HEADER, f === 4 ? 16 : 24, ipLen, REG_KEY);
  metaLoad(w, NFT_META_L4PROTO, REG_KEY + ipLen / 4);
  payload(w, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, REG_KEY + ipLen / 4 + 1);
  metaLoad(w, NFT_META_MARK, REG_SAVED_MARK);
  // The slot count (no element: the rule ends here, as a vmap miss does).
  lookup(w, svcMap(f), REG_KEY, REG_KEY);
  metaSetMark(w, REG_KEY);
  metaLoad(w, NFT_META_MARK, REG_KEY);
  metaSetMark(w, REG_SAVED_MARK);
  lookup(w, PICK_MAP, REG_KEY, REG_VERDICT);
  w.endAttr(list);
  // The comment, as nft stores it (libnftnl udata: type, length, text with its NUL).
  const c = Buffer.from(`${ruleComment(f)}\0`);
  const ud = w.begin(NFTA_RULE_USERDATA);
  w.reserve(2 + c.length);
  w.buf[w.len++] = NFTNL_UDATA_RULE_COMMENT;
  w.buf[w.len++] = c.length;
  w.bytes(c);
  w.endAttr(ud);
  w.endMsg(m);
}
