/**
 * `npm run bench [component ...]`: runs each component's benchmark (`bench/<component>/index.ts`
 * exporting `bench(): Promise<string>` that returns Markdown) and writes the result, with the
 * machine it ran on, to docs/benchmarks/<component>.md. Whatever the old page has below the
 * NOTES marker is written by hand (analysis, earlier runs) and is kept under the new figures.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keptNotes } from './notes.js';

const all = ['master', 'agent', 'dns', 'l4lb', 'vip-metrics', 'overlay', 'cni', 'control', 'admin', 'ha'];
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

async function main(): Promise<void> {
  const want = process.argv.slice(2).length ? process.argv.slice(2) : all;
  const docs = join(root.endsWith('dist') ? join(root, '..') : root, 'docs', 'benchmarks');
  mkdirSync(docs, { recursive: true });
  let failed = 0;
  for (const name of want) {
    const file = join(here, '..', name, `index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`);
    if (!existsSync(file)) {
      console.log(`bench: ${name}: no benchmark yet`);
      continue;
    }
    console.log(`bench: ${name}: running`);
    try {
      const mod = (await import(file)) as { bench(): Promise<string> };
      const md = await mod.bench();
      const page = join(docs, `${name}.md`);
      const notes = existsSync(page) ? keptNotes(readFileSync(page, 'utf8')) : '';
      const out = `# ${name} benchmarks\n\nMachine: ${machine()}\nDate: ${new Date().toISOString()}\n\n${md}\n${notes ? `\n${notes.trimEnd()}\n` : ''}`;
      writeFileSync(page, out);
      console.log(out);
    } catch (e) {
      failed++;
      console.error(`bench: ${name} failed: ${(e as Error).stack}`);
    }
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
