/**
 * SHA-1 of a short string, as hex: what names of kernel objects are derived from (host veth,
 * port-map chain). Plain JS because loading `node:crypto` costs the plugin a few ms of start-up
 * for two tiny hashes; `sha1.test.ts` checks it against `node:crypto`.
 */
const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));

export function sha1Hex(text: string): string {
  const msg = Buffer.from(text, 'utf8');
  const blocks = Math.ceil((msg.length + 9) / 64);
  const data = Buffer.alloc(blocks * 64);
  msg.copy(data);
  data[msg.length] = 0x80;
  const bits = msg.length * 8;
  data.writeUInt32BE(Math.floor(bits / 0x100000000), data.length - 8);
  data.writeUInt32BE(bits >>> 0, data.length - 4);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const w = new Array<number>(80);
  for (let off = 0; off < data.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = data.readInt32BE(off + i * 4);
    for (let i = 16; i < 80; i++) w[i] = rotl(w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!, 1);
    let [a, b, c, d, e] = h as [number, number, number, number, number];
    for (let i = 0; i < 80; i++) {
      const [f, k] = i < 20 ? [(b & c) | (~b & d), 0x5a827999] : i < 40 ? [b ^ c ^ d, 0x6ed9eba1] : i < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
      const t = (rotl(a, 5) + f + e + k + w[i]!) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] = (h[0]! + a) | 0;
    h[1] = (h[1]! + b) | 0;
    h[2] = (h[2]! + c) | 0;
    h[3] = (h[3]! + d) | 0;
    h[4] = (h[4]! + e) | 0;
  }
  return h.map((x) => (x >>> 0).toString(16).padStart(8, '0')).join('');
}
