/**
 * The repository's import graph, read with TypeScript's own pre-processor (static `import`,
 * `export ... from`, `import type`, dynamic `import('...')` and type-level `import('...')`), and the
 * layering rules checked against it (test/architecture.test.ts). Paths are repo-relative, with `/`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import ts from 'typescript';

/** Top-level component folders. `cli/` is the composition root; `test/` and `bench/` are neither. */
export const COMPONENTS = ['master', 'agent', 'dns', 'l4lb', 'overlay', 'cni', 'control', 'admin', 'diag', 'netmetrics', 'common', 'contracts'];
const SKIP = new Set(['node_modules', 'dist', '.git', 'build']);

/** Files under `root` (repo-relative) whose names end with one of `exts`. */
export function listFiles(root: string, exts: string[], dir = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(posix.join(root, dir) || '.', { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, exts, rel));
    else if (exts.some((x) => e.name.endsWith(x))) out.push(rel);
  }
  return out.sort();
}

/** file -> the repo-relative targets of its relative imports (package imports are left out). */
export type ImportGraph = Map<string, string[]>;

export function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)));
}

export function readImportGraph(root: string): ImportGraph {
  return new Map(listFiles(root, ['.ts', '.mts', '.cts']).map((f) => [f, importsOf(f, readFileSync(posix.join(root, f), 'utf8'))]));
}

const segments = (p: string) => p.split('/');
const top = (p: string) => segments(p)[0]!;
/** Bench code: a top-level `bench/` tree or any `bench/` folder inside a component (or test/). */
export const isBench = (p: string) => segments(p).slice(0, -1).includes('bench');
/** Test code: a `*.test.ts` file or anything under a `test/` folder. */
export const isTest = (p: string) => /\.test\.[cm]?ts$/.test(p) || segments(p).slice(0, -1).includes('test');
/** A component's own files, tests included, bench code not. */
const isComponentFile = (p: string) => COMPONENTS.includes(top(p)) && !isBench(p);
const isProduct = (p: string) => !isTest(p) && !isBench(p);
/** What another component may import of it: its top-level index only. */
const isComponentIndex = (p: string) => segments(p).length === 2 && /^index(\.[cm]?[jt]s)?$/.test(segments(p)[1]!);

export interface Violations {
  /** (1) a component file imports cli/. */
  importsCli: string[];
  /** (2) a component file imports another component's files other than its index, contracts/ or common/. */
  crossesComponents: string[];
  /** (3) contracts/ imports something other than common/. */
  contractsNotLeaf: string[];
  /** (4) a product file imports test or bench code. */
  productImportsTestOrBench: string[];
}

/** Every rule broken, each as `file -> import`. */
export function checkLayers(graph: ImportGraph): Violations {
  const v: Violations = { importsCli: [], crossesComponents: [], contractsNotLeaf: [], productImportsTestOrBench: [] };
  for (const [file, targets] of graph) {
    for (const to of targets) {
      const edge = `${file} -> ${to}`;
      const [from, dest] = [top(file), top(to)];
      if (isComponentFile(file) && dest === 'cli') v.importsCli.push(edge);
      if (isComponentFile(file) && dest !== from && COMPONENTS.includes(dest) && dest !== 'contracts' && dest !== 'common' && !isComponentIndex(to))
        v.crossesComponents.push(edge);
      if (from === 'contracts' && dest !== 'contracts' && dest !== 'common') v.contractsNotLeaf.push(edge);
      if (isProduct(file) && (isTest(to) || isBench(to))) v.productImportsTestOrBench.push(edge);
    }
  }
  return v;
}

/**
 * Files that name the design folder beside the repository (a relative path up into `shared`, or its
 * absolute path under /work): a test or a build that reads it cannot run from a clone with nothing
 * beside it. The pattern is built from pieces so that this file does not match itself.
 */
export function filesNamingShared(root: string): string[] {
  const pattern = new RegExp(['\\.\\./', '/work/'].map((p) => p + 'shared\\b').join('|'));
  return listFiles(root, ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json', '.sh', '.py', '.c', '.h', '.gyp'])
    .filter((f) => pattern.test(readFileSync(posix.join(root, f), 'utf8')))
    .map((f) => `${f} -> ${readFileSync(posix.join(root, f), 'utf8').match(pattern)![0]}`);
}
