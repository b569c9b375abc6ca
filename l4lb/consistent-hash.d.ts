declare module 'consistent-hash' {
  interface Options {
    range?: number;
    weight?: number;
    distribution?: 'random' | 'uniform';
  }
  class ConsistentHash {
    constructor(opts?: Options);
    readonly nodeCount: number;
    add(node: string, weight?: number, points?: number[]): this;
    remove(node: string): this;
    get(key: string, count?: number): string | null;
  }
  export = ConsistentHash;
}
