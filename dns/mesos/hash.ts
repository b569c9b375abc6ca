import { createHash } from 'node:crypto';

const alphabet = 'ybndrfg8ejkmcpqxot1uwisza345h769';

/** z-base-32 (human-oriented base32, as used by mesos-dns canonical names). */
export function zbase32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31];
  return out;
}

/** The 5-character task hash of canonical names: zbase32(sha1(taskId))[:5]. */
export function hashString(s: string): string {
  return zbase32(createHash('sha1').update(s).digest()).slice(0, 5);
}
