#!/usr/bin/env node
/**
 * Bundles the CNI plugin (`cni/main.ts` and what it imports) into one CommonJS file, by default
 * `dist/cni/sextant-cni.cjs`: one file to read and compile, no ESM loader, which is most of what
 * a plugin run costs besides Node's own start-up. Fails when anything outside `cni/`, the small
 * common/ files it shares (errors, proc, netns, cidr) and ipaddr.js gets in (e.g. prom-client or
 * grpc through a careless import of common/index.ts).
 * Usage: node scripts/bundle-cni.mjs [outfile]   (run by `npm run build` after tsc)
 */
import { chmod } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUTFILE = join(root, 'dist', 'cni', 'sextant-cni.cjs');
const ALLOWED = [/^cni\//, /^common\/(errors|proc|netns|cidr)\.ts$/, /(^|\/)node_modules\/ipaddr\.js\//];

/** Build the bundle at `outfile` (mode 755); returns the bundled source files, repo-relative. */
export async function bundleCni(outfile = DEFAULT_OUTFILE) {
  const result = await build({
    entryPoints: [join(root, 'cni', 'main.ts')],
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile,
    metafile: true,
    logLevel: 'error',
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => relative(root, resolve(root, p)));
  const stray = inputs.filter((p) => !ALLOWED.some((re) => re.test(p)));
  if (stray.length) throw new Error(`sextant-cni bundle must hold only cni/, common/{errors,proc,netns,cidr}.ts and ipaddr.js; it pulled in: ${stray.join(', ')}`);
  await chmod(outfile, 0o755);
  return inputs;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2] ? resolve(process.argv[2]) : DEFAULT_OUTFILE;
  const inputs = await bundleCni(out);
  console.log(`bundled ${inputs.length} files into ${relative(process.cwd(), out)}`);
}
