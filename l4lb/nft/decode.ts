/**
 * Reading nf_tables element attributes back: a dump's or a batch's elements as the text form the
 * renderer writes (`a . b . c`, `goto CHAIN`), and attribute walks with or without Buffers.
 */
import { endianness } from 'node:os';
import ipaddr from 'ipaddr.js';
import { DATA_VALUE, DATA_VERDICT, ELEM_DATA, ELEM_KEY, NFT_GOTO, NFT_JUMP, NLA_TYPE_MASK, PROTO_NAME, VERDICT_CHAIN, VERDICT_CODE, fieldSize, type Field, type Layout } from './encode.js';

const HOST_LE = endianness() === 'LE';

/** Netlink attributes in `buf` from `from`: [type, payload]. */
export function* attrs(buf: Buffer, from: number): Generator<[number, Buffer]> {
  let at = from;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    if (len < 4 || at + len > buf.length) return;
    yield [buf.readUInt16LE(at + 2) & NLA_TYPE_MASK, buf.subarray(at + 4, at + len)];
    at += (len + 3) & ~3;
  }
}

export function fieldText(f: Field, b: Buffer, at: number): string {
  switch (f) {
    case 'ip4':
      return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    case 'ip6':
      return ipaddr.fromByteArray([...b.subarray(at, at + 16)]).toString();
    case 'proto':
      return PROTO_NAME[b[at]!] ?? String(b[at]);
    case 'port':
      return String(b.readUInt16BE(at));
    case 'u32':
      return String(HOST_LE ? b.readUInt32LE(at) : b.readUInt32BE(at));
  }
}

/** The DATA_VALUE payload of a nested key or data attribute (empty when there is none). */
export function valueBytes(nested: Buffer): Buffer {
  for (const [type, v] of attrs(nested, 0)) if (type === DATA_VALUE) return v;
  return nested.subarray(0, 0);
}

export function valueText(fields: Field[], v: Buffer): string {
  const parts: string[] = [];
  let at = 0;
  for (const f of fields) {
    parts.push(fieldText(f, v, at));
    at += fieldSize(f);
  }
  return parts.join(' . ');
}

export function verdictText(nested: Buffer): string {
  for (const [type, v] of attrs(nested, 0)) {
    if (type !== DATA_VERDICT) continue;
    let code = 0;
    let chain = '';
    for (const [t, x] of attrs(v, 0)) {
      if (t === VERDICT_CODE) code = x.readInt32BE(0);
      if (t === VERDICT_CHAIN) chain = x.toString('utf8').replace(/\0+$/, '');
    }
    return code === NFT_GOTO ? `goto ${chain}` : code === NFT_JUMP ? `jump ${chain}` : `verdict ${code}`;
  }
  return '';
}

/**
 * A service map's data: a verdict, or (the slot-count encoding, names.ts SvcData) a u32 count;
 * the attribute type says which, so a reader needs not know the table's encoding.
 */
function verdictOrCount(nested: Buffer): string {
  const v = valueBytes(nested);
  return v.length === 4 ? fieldText('u32', v, 0) : verdictText(nested);
}

/** One LIST_ELEM attribute's payload as text: [key, value ('' for sets)]. */
export function elementText(el: Buffer, layout: Layout): [string, string] {
  let key = '';
  let value = '';
  for (const [type, v] of attrs(el, 0)) {
    if (type === ELEM_KEY) key = valueText(layout.key, valueBytes(v));
    else if (type === ELEM_DATA) value = layout.data === 'verdict' ? verdictOrCount(v) : layout.data === 'none' ? '' : valueText(layout.data, valueBytes(v));
  }
  return [key, value];
}

/** Each attribute's payload [start, end) in buf[from, to) (no allocation per attribute). */
export function eachAttr(buf: Buffer, from: number, to: number, visit: (type: number, start: number, end: number) => void): void {
  let at = from;
  while (at + 4 <= to) {
    const len = buf[at]! | (buf[at + 1]! << 8);
    if (len < 4 || at + len > to) return;
    visit((buf[at + 2]! | (buf[at + 3]! << 8)) & NLA_TYPE_MASK, at + 4, at + len);
    at += (len + 3) & ~3;
  }
}

/** One netlink message: its type, flags and the payload after the 16-byte header. */
export interface NlMsg {
  type: number;
  flags: number;
  body: Buffer;
}

/** The netlink messages in a buffer of replies or events (a truncated last one is left out). */
export function* nlMessages(buf: Buffer): Generator<NlMsg> {
  let at = 0;
  while (at + 16 <= buf.length) {
    const len = buf.readUInt32LE(at);
    if (len < 16 || at + len > buf.length) return;
    yield { type: buf.readUInt16LE(at + 4), flags: buf.readUInt16LE(at + 6), body: buf.subarray(at + 16, at + len) };
    at += (len + 3) & ~3;
  }
}
