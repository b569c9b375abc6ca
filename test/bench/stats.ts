/** Small statistics shared by the benchmarks. */

/** The middle value (upper middle for an even count) of `xs`; `xs` is not changed. */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
