/**
 * The one config loader: reads JSON (or YAML by extension) and walks it with a typed reader whose
 * every error names the field that was wrong. Parsers built on it return typed values or throw
 * ConfigError, and never half-apply.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError } from './errors.js';

/**
 * The YAML parser, loaded on the first YAML file: most processes read JSON only, and the package is
 * about 0.75 MB of heap once loaded (issue #26: the agent's memory).
 */
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  return (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));
}

/** Parse a config file into plain data; errors name the file. */
export function loadConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, `cannot read file: ${(e as Error).message}`);
  }
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, source = 'config'): unknown {
  try {
    if (/\.ya?ml$/i.test(source)) return yaml().parse(text);
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(source, `not valid ${/\.ya?ml$/i.test(source) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
}

type Opt<T> = { default: T } | { required: true };

/**
 * A reader over one object. `caseInsensitive` matches keys ignoring case (mesos-dns style).
 * `unknown()` lists keys nobody asked for, so callers can reject typos.
 */
export class Fields {
  private readonly seen = new Set<string>();
  private readonly obj: Record<string, unknown>;
  constructor(
    value: unknown,
    readonly path = '',
    private readonly caseInsensitive = false,
  ) {
    if (value === undefined || value === null) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(path || '(root)', 'must be an object');
    this.obj = value as Record<string, unknown>;
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  /** Raw value of a key (undefined when absent). */
  raw(key: string): unknown {
    if (!this.caseInsensitive) {
      this.seen.add(key);
      return this.obj[key];
    }
    const want = key.toLowerCase();
    for (const k of Object.keys(this.obj)) {
      if (k.toLowerCase() === want) {
        this.seen.add(k);
        return this.obj[k];
      }
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  private get<T>(key: string, opt: Opt<T>, check: (v: unknown, fail: (why: string) => never) => T): T {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      if ('required' in opt) throw new ConfigError(this.at(key), 'is required');
      return opt.default;
    }
    return check(v, (why) => {
      throw new ConfigError(this.at(key), why);
    });
  }

  string(key: string, opt: Opt<string>): string {
    return this.get(key, opt, (v, fail) => (typeof v === 'string' ? v : fail('must be a string')));
  }

  number(key: string, opt: Opt<number>, range: { min?: number; max?: number; integer?: boolean } = {}): number {
    return this.get(key, opt, (v, fail) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail('must be a number');
      const n = v as number;
      if (range.integer && !Number.isInteger(n)) fail('must be an integer');
      if (range.min !== undefined && n < range.min) fail(`must be >= ${range.min}`);
      if (range.max !== undefined && n > range.max) fail(`must be <= ${range.max}`);
      return n;
    });
  }

  boolean(key: string, opt: Opt<boolean>): boolean {
    return this.get(key, opt, (v, fail) => (typeof v === 'boolean' ? v : fail('must be true or false')));
  }

  strings(key: string, opt: Opt<string[]>): string[] {
    return this.get(key, opt, (v, fail) =>
      Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : fail('must be a list of strings'),
    );
  }

  /** A nested object, read with its own Fields (same case rule). */
  object(key: string): Fields {
    return new Fields(this.raw(key), this.at(key), this.caseInsensitive);
  }

  /** A list of objects, each read with its own Fields. */
  objects(key: string): Fields[] {
    const v = this.raw(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new ConfigError(this.at(key), 'must be a list');
    return v.map((item, i) => new Fields(item, `${this.at(key)}[${i}]`, this.caseInsensitive));
  }

  /** Keys present in the object that were never read. */
  unknown(): string[] {
    return Object.keys(this.obj).filter((k) => !this.seen.has(k));
  }

  /** Throw on the first key that was never read (call after reading every known key). */
  rejectUnknown(): void {
    const u = this.unknown();
    if (u.length) throw new ConfigError(this.at(u[0]!), 'unknown key');
  }
}
