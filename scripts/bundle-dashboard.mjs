#!/usr/bin/env node
/**
 * Bundles the dashboard's front end (`dashboard/web/main.tsx`: Preact, uPlot and our pages) with
 * esbuild into `dist/dashboard/web/`: `app.js` (minified IIFE), `app.css`, and `index.html` naming
 * both with a content hash so browsers cache the bundle and never a stale one. Everything is in
 * the bundle: the page fetches nothing from outside the cluster. Prints the gzipped sizes and
 * fails above the budget (200 kB gzipped in all).
 * Usage: node scripts/bundle-dashboard.mjs [outdir]   (run by `npm run build` after tsc)
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUTDIR = join(root, 'dist', 'dashboard', 'web');
export const BUDGET_GZIP = 200 * 1024;

/** Build into `outdir`; returns the gzipped size of each file and their total. */
export async function bundleDashboard(outdir = DEFAULT_OUTDIR) {
  await mkdir(outdir, { recursive: true });
  const result = await build({
    entryPoints: { app: join(root, 'dashboard', 'web', 'main.tsx') },
    absWorkingDir: root,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir,
    write: false,
    logLevel: 'error',
    legalComments: 'none',
  });
  const out = Object.fromEntries(result.outputFiles.map((f) => [relative(outdir, f.path), f.contents]));
  if (!out['app.js'] || !out['app.css']) throw new Error(`dashboard bundle: esbuild wrote ${Object.keys(out).join(', ')}, wanted app.js and app.css`);
  const hash = createHash('sha256').update(out['app.js']).update(out['app.css']).digest('hex').slice(0, 12);
  const html = (await readFile(join(root, 'dashboard', 'web', 'index.html'), 'utf8')).replaceAll('__HASH__', hash);
  const files = { 'app.js': out['app.js'], 'app.css': out['app.css'], 'index.html': Buffer.from(html) };
  const sizes = {};
  for (const [name, data] of Object.entries(files)) {
    await writeFile(join(outdir, name), data);
    sizes[name] = gzipSync(data, { level: 9 }).length;
  }
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  if (total > BUDGET_GZIP) throw new Error(`dashboard bundle is ${total} bytes gzipped, over the ${BUDGET_GZIP} byte budget`);
  return { sizes, total };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUTDIR;
  const { sizes, total } = await bundleDashboard(out);
  const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
  console.log(`bundled the dashboard into ${relative(process.cwd(), out)}: ${Object.entries(sizes).map(([n, s]) => `${n} ${kb(s)}`).join(', ')} gzipped, ${kb(total)} in all`);
}
