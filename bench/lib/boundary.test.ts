// Issue #23: bench code lives in bench/ and nothing outside it imports it; product code (every
// component file that is not a test or a test helper) imports neither bench/ nor test/.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const COMPONENTS = ['agent', 'cli', 'cni', 'common', 'control', 'dns', 'l4lb', 'master', 'native', 'overlay'];

/** Repository-relative targets of the relative module specifiers (static, re-export, dynamic) in `src`. */
export function importedPaths(file: string, src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\1/g))
    out.push(relative(root, resolve(dirname(file), m[2]!)));
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'build' ? [] : sources(p);
    return /\.(ts|mts|cts|mjs|cjs|js)$/.test(e.name) ? [p] : [];
  });
}

const isTestCode = (rel: string) => rel.endsWith('.test.ts') || rel.split('/').includes('test');
const under = (rel: string, top: string) => rel === top || rel.startsWith(`${top}/`);

t.test('importedPaths finds static, re-exported and dynamic relative imports', (t) => {
  const file = join(root, 'dns', 'mesos', 'x.ts');
  const src = "import a from '../../bench/dns/mesos.js';\nexport { b } from './b.js';\nconst c = await import('../../test/lib/index.js');\nimport 'node:fs';";
  t.same(importedPaths(file, src), ['bench/dns/mesos.js', 'dns/mesos/b.js', 'test/lib/index.js']);
  t.end();
});

t.test('no file outside bench/ imports bench code', (t) => {
  const files = [...COMPONENTS, 'test', 'scripts'].flatMap((d) => sources(join(root, d)));
  t.ok(files.length > 100, `${files.length} source files scanned`);
  const bad = files.flatMap((f) => importedPaths(f, readFileSync(f, 'utf8')).filter((p) => under(p, 'bench')).map((p) => `${relative(root, f)} -> ${p}`));
  t.same(bad, []);
  t.end();
});

t.test('product code imports neither bench/ nor test/', (t) => {
  const files = COMPONENTS.flatMap((d) => sources(join(root, d))).filter((f) => !isTestCode(relative(root, f)));
  const bad = files.flatMap((f) => importedPaths(f, readFileSync(f, 'utf8')).filter((p) => under(p, 'bench') || under(p, 'test')).map((p) => `${relative(root, f)} -> ${p}`));
  t.same(bad, []);
  t.end();
});
