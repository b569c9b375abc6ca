// Types for the `consistent-hash` package (it ships none): only what ring.ts uses.
declare module 'consistent-hash' {
  class ConsistentHash {
    constructor(options?: { range?: number; weight?: number; distribution?: 'random' | 'uniform' });
    readonly nodeCount: number;
    add(node: string, weight?: number, points?: number[]): this;
    remove(node: string): this;
    get(name: string, count: number): string[] | null;
    get(name: string): string | null;
  }
  export = ConsistentHash;
}
