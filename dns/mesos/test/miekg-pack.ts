/**
 * A tiny, independent encoder of the bytes mesos-dns v0.7 writes: its reply() sets
 * `Compress = true` and miekg/dns v1.0.15 packs names like this:
 * - the question name is written as the client sent it (SetReply copies it);
 * - every name is split at its dots; from the left, each suffix ("a.b.mesos.", "b.mesos.",
 *   "mesos.") is looked up by its exact text, letter case included, among the suffixes of the
 *   names written before; the first hit becomes a pointer (0xC000 | offset) and ends the name;
 *   a suffix that misses is remembered at its offset when that offset is below 16384;
 * - SRV targets are never compressed but are remembered (later names may point at them);
 *   record owners, NS targets and SOA mname/rname are compressed.
 * Test-only; names here carry no escapes.
 */
export type Rr =
  | { type: 'A' | 'AAAA'; name: string; ttl: number; address: string }
  | { type: 'SRV'; name: string; ttl: number; port: number; weight: number; target: string }
  | { type: 'NS'; name: string; ttl: number; target: string }
  | { type: 'SOA'; name: string; ttl: number; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number };

const TYPE = { A: 1, NS: 2, SOA: 6, AAAA: 28, SRV: 33 } as const;

export interface Head {
  id: number;
  /** The flags word: QR, AA, TC, RD, RA and the rcode. */
  flags: number;
}

export function pack(h: Head, q: { name: string; type: number; cls?: number }, an: Rr[], ns: Rr[], ar: Rr[]): Buffer {
  const out: number[] = [];
  const seen = new Map<string, number>();
  const u16 = (v: number) => out.push((v >> 8) & 0xff, v & 0xff);
  const u32 = (v: number) => {
    u16(v >>> 16);
    u16(v & 0xffff);
  };
  const name = (n: string, compress: boolean) => {
    const labels = n.replace(/\.$/, '').split('.').filter(Boolean);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.') + '.';
      const at = seen.get(suffix);
      if (at !== undefined && compress) return u16(0xc000 | at);
      if (at === undefined && out.length < 16384) seen.set(suffix, out.length);
      out.push(labels[i]!.length, ...Buffer.from(labels[i]!, 'latin1'));
    }
    out.push(0);
  };
  u16(h.id);
  u16(h.flags);
  for (const c of [1, an.length, ns.length, ar.length]) u16(c);
  name(q.name, true);
  u16(q.type);
  u16(q.cls ?? 1);
  for (const r of [...an, ...ns, ...ar]) {
    name(r.name, true);
    u16(TYPE[r.type]);
    u16(1);
    u32(r.ttl);
    const lenAt = out.length;
    u16(0);
    if (r.type === 'A') out.push(...r.address.split('.').map(Number));
    else if (r.type === 'AAAA') out.push(...v6(r.address));
    else if (r.type === 'SRV') {
      u16(0);
      u16(r.weight);
      u16(r.port);
      name(r.target, false);
    } else if (r.type === 'NS') name(r.target, true);
    else if (r.type === 'SOA') {
      name(r.mname, true);
      name(r.rname, true);
      for (const v of [r.serial, r.refresh, r.retry, r.expire, r.minimum]) u32(v);
    }
    const rdlen = out.length - lenAt - 2;
    out[lenAt] = rdlen >> 8;
    out[lenAt + 1] = rdlen & 0xff;
  }
  return Buffer.from(out);
}

/** 16 bytes of an IPv6 address written with at most one `::`. */
function v6(a: string): number[] {
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => [(parseInt(g, 16) >> 8) & 0xff, parseInt(g, 16) & 0xff]);
}
