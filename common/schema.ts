/**
 * JSON Schema validation at the door (ajv 8 + ajv-formats). A resource's schema is a plain object
 * written `as const`; `FromSchema` turns it into the TypeScript type of a valid value, so the schema
 * is the one source of truth for both. `compileSchema` gives a checker that returns the typed value
 * or throws ValidationError in Marathon's shape (`{path, errors}` per bad path: JSON pointers, each
 * error naming the rule and its limit).
 */
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ValidationError } from './errors.js';

// ajv-formats is CommonJS; under NodeNext its default export is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;

/** A JSON Schema object (the subset our schemas use is typed by FromSchema below). */
export type JsonSchema = Record<string, unknown>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type Req<S> = S extends { readonly required: readonly (infer R)[] } ? R & string : never;
type Props<S> = S extends { readonly properties: infer P } ? P : {};
type Extra<S> = S extends { readonly additionalProperties: infer A }
  ? A extends false
    ? {}
    : A extends true
      ? Record<string, unknown>
      : Record<string, FromSchema<A>>
  : {};
type ObjectOf<S> = Simplify<
  { -readonly [K in keyof Props<S> as K extends Req<S> ? K : never]: FromSchema<Props<S>[K]> } & {
    -readonly [K in keyof Props<S> as K extends Req<S> ? never : K]?: FromSchema<Props<S>[K]>;
  }
> &
  (keyof Props<S> extends never ? Extra<S> : {});

/** The TypeScript type of a value that a schema (written `as const`) accepts. */
export type FromSchema<S> = S extends { readonly enum: readonly (infer E)[] }
  ? E
  : S extends { readonly const: infer C }
    ? C
    : S extends { readonly anyOf: readonly (infer A)[] }
      ? FromSchema<A>
      : S extends { readonly oneOf: readonly (infer A)[] }
        ? FromSchema<A>
        : S extends { readonly type: 'string' }
          ? string
          : S extends { readonly type: 'integer' | 'number' }
            ? number
            : S extends { readonly type: 'boolean' }
              ? boolean
              : S extends { readonly type: 'null' }
                ? null
                : S extends { readonly type: 'array'; readonly items: infer I }
                  ? FromSchema<I>[]
                  : S extends { readonly type: 'array' }
                    ? unknown[]
                    : S extends { readonly type: 'object' }
                      ? ObjectOf<S>
                      : unknown;

let shared: Ajv | undefined;

/** One ajv instance per process: every error at once, formats (plus `ip`: v4 or v6), and the failing schema on errors. */
export function schemaAjv(): Ajv {
  if (!shared) {
    shared = new Ajv({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true });
    addFormats(shared);
    shared.addFormat('ip', (s: string) => isIP(s) !== 0);
  }
  return shared;
}

export interface SchemaChecker<T> {
  readonly schema: JsonSchema;
  /** The typed value, or ValidationError listing every bad path. */
  check(value: unknown): T;
  /** The details only (empty when valid). */
  errors(value: unknown): { path: string; errors: string[] }[];
}

const compiled = new WeakMap<object, ValidateFunction>();
/**
 * Also by the schema's JSON text: schema factories (`appDefinitionSchema(limits)`) build a new
 * object per call, and compiling one takes hundreds of ms of event loop. A master that takes over
 * as leader must not stall its ZooKeeper session for that: it compiles them while it follows
 * (master/warm.ts) and finds them here when its routes are built.
 */
const compiledByText = new Map<string, ValidateFunction>();

export function compileSchema<T>(schema: JsonSchema, paths: 'pointer' | 'dotted' = 'pointer'): SchemaChecker<T> {
  let fn = compiled.get(schema);
  if (!fn) {
    const text = JSON.stringify(schema);
    fn = compiledByText.get(text) ?? schemaAjv().compile(schema);
    compiledByText.set(text, fn);
    compiled.set(schema, fn);
  }
  const validate = fn;
  const errors = (value: unknown) => {
    if (validate(value)) return [];
    const d = schemaDetails(validate.errors ?? []);
    return paths === 'dotted' ? d.map((x) => ({ ...x, path: dottedPath(x.path) })) : d;
  };
  return {
    schema,
    errors,
    check(value) {
      const d = errors(value);
      if (d.length) throw new ValidationError(d);
      return value as T;
    },
  };
}

const SCALARS = new Set(['string', 'number', 'integer', 'boolean', 'null']);

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One ajv error as a message naming the rule (the keyword), its limit and the setting of a bound (`x-bound`). */
function message(e: ErrorObject): string {
  const bound = (e.parentSchema as Record<string, unknown> | undefined)?.['x-bound'];
  const m = ruleMessage(e);
  return typeof bound === 'string' && /^max/.test(e.keyword) ? `${m.slice(0, -1)}, set by ${bound})` : m;
}

function ruleMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `got ${show(e.data)}, expected ${String(p.type)} (type)`;
    case 'required':
      return 'is required (required)';
    case 'additionalProperties':
      return 'is not allowed here (additionalProperties)';
    case 'enum':
      return `got ${show(e.data)}, expected one of ${((p.allowedValues as unknown[]) ?? []).map((x) => JSON.stringify(x)).join(', ')} (enum)`;
    case 'maximum':
    case 'minimum':
    case 'exclusiveMaximum':
    case 'exclusiveMinimum':
      return `got ${show(e.data)}, ${e.message} (${e.keyword} ${String(p.limit)})`;
    case 'maxLength':
    case 'minLength':
      return `length ${typeof e.data === 'string' ? e.data.length : '?'}, ${e.message} (${e.keyword} ${String(p.limit)})`;
    case 'maxItems':
    case 'minItems':
      return `${Array.isArray(e.data) ? e.data.length : '?'} items, ${e.message} (${e.keyword} ${String(p.limit)})`;
    case 'maxProperties':
    case 'minProperties':
      return `${e.data && typeof e.data === 'object' ? Object.keys(e.data).length : '?'} entries, ${e.message} (${e.keyword} ${String(p.limit)})`;
    case 'pattern':
      return `got ${show(e.data)}, must match ${String(p.pattern)} (pattern)`;
    case 'format':
      return `got ${show(e.data)}, must be a valid ${String(p.format)} (format)`;
    case 'propertyNames':
      return `key ${show(p.propertyName)} is not allowed (propertyNames)`;
    default:
      return `${e.message ?? 'is invalid'} (${e.keyword})`;
  }
}

/**
 * ajv errors -> Marathon details. Paths are JSON pointers (`/` for the body itself); a missing or
 * extra property is reported at its own path. An error on one element of an array of scalars is
 * reported at the array (naming the index), as Marathon does for `args` and constraints.
 */
export function schemaDetails(errs: ErrorObject[]): { path: string; errors: string[] }[] {
  const out = new Map<string, string[]>();
  for (const e of errs) {
    // An error inside propertyNames is told through the propertyNames error that follows it.
    if (e.keyword === 'if' || e.schemaPath.includes('/propertyNames/')) continue;
    let path = e.instancePath;
    let msg = message(e);
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required') path += `/${String(p.missingProperty)}`;
    else if (e.keyword === 'additionalProperties') path += `/${String(p.additionalProperty)}`;
    else if (e.keyword === 'propertyNames') {
      const inner = errs.find((x) => x.instancePath === e.instancePath && x.schemaPath.startsWith(`${e.schemaPath}/`));
      path += `/${String(p.propertyName)}`;
      msg = inner ? `the key: ${message({ ...inner, data: p.propertyName })}` : msg;
    }
    const ps = e.parentSchema as { type?: unknown } | undefined;
    const m = /^(.*)\/(\d+)$/.exec(path);
    if (m && e.schemaPath.includes('/items/') && typeof ps?.type === 'string' && SCALARS.has(ps.type) && e.keyword !== 'required') {
      path = m[1]!;
      msg = `item ${m[2]}: ${msg}`;
    }
    path ||= '/';
    const list = out.get(path) ?? [];
    if (!list.includes(msg)) list.push(msg);
    out.set(path, list);
  }
  return [...out].map(([path, errors]) => ({ path, errors }));
}

/** `/networks/1/prefix` -> `networks[1].prefix` (the style of ConfigError fields); `/` -> `(root)`. */
export function dottedPath(pointer: string): string {
  const segs = pointer.split('/').slice(1).filter((s, i, a) => s !== '' || i < a.length - 1);
  if (!segs.length) return '(root)';
  return segs.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** `networks[1].prefix` -> `/networks/1/prefix`; `(root)` -> `/`. */
export function pointerPath(dotted: string): string {
  if (!dotted || dotted === '(root)') return '/';
  return '/' + dotted.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean).join('/');
}
