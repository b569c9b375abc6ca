/** xorshift32: a random integer in [0, n) from a fixed seed, the same sequence every run (randomized tests that can be replayed). */
export function seededRandom(seed: number): (n: number) => number {
  let x = seed >>> 0;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}
