/** Random and mutated DNS packets for fuzzing (deterministic per seed). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

export function seedQueries(): Buffer[] {
  const names = ['liquor-store.marathon.mesos', '_liquor-store._tcp.marathon.mesos', 'leader.mesos', 'missing.mesos', 'google.com', 'mesos', 'a.*.mesos'];
  const types = [1, 28, 33, 6, 2, 255, 16, 252];
  const out: Buffer[] = [];
  for (const n of names)
    for (const ty of types) {
      const parts: Buffer[] = [Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1])];
      for (const l of n.split('.')) parts.push(Buffer.from([l.length]), Buffer.from(l));
      parts.push(Buffer.from([0, 0, ty, 0, 1]), Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]));
      out.push(Buffer.concat(parts));
    }
  return out;
}

/** Packet i: a third purely random, the rest mutations (bit flips, cuts, splices, count bumps) of seeds. */
export function fuzzPacket(i: number, r: () => number, seeds: Buffer[]): Buffer {
  const kind = i % 3;
  if (kind === 0) {
    const b = Buffer.allocUnsafe(Math.floor(r() * 600));
    for (let j = 0; j < b.length; j++) b[j] = (r() * 256) | 0;
    if (b.length > 3 && r() < 0.5) b[2] = b[2]! & 0x7f;
    return b;
  }
  const b = Buffer.from(seeds[(r() * seeds.length) | 0]!);
  const n = 1 + ((r() * 4) | 0);
  for (let k = 0; k < n; k++) {
    const op = (r() * 5) | 0;
    const at = (r() * b.length) | 0;
    if (op === 0) b[at] = b[at]! ^ (1 << ((r() * 8) | 0));
    else if (op === 1) b[at] = (r() * 256) | 0;
    else if (op === 2) return b.subarray(0, at);
    else if (op === 3) b.writeUInt16BE((r() * 65536) | 0, 4 + 2 * ((r() * 4) | 0));
    else if (at + 1 < b.length) {
      b[at] = 0xc0 | ((r() * 64) | 0);
      b[at + 1] = (r() * 256) | 0;
    }
  }
  return b;
}
