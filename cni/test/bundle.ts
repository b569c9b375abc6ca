/**
 * Builds the plugin for tests and benchmarks exactly as `npm run build` does (scripts/bundle-cni.mjs:
 * one CommonJS file) and the `sextant-cni` shell wrapper the agent also writes, in a temporary
 * CNI bin dir.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from './helpers.js';
import { writeWrapper } from '../wrapper.js';

/** scripts/bundle-cni.mjs, found from here whether this runs from source or from dist/. */
async function loadBundler(): Promise<(outfile: string) => Promise<string[]>> {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'scripts', 'bundle-cni.mjs'))) {
    if (dirname(dir) === dir) throw new Error('scripts/bundle-cni.mjs not found above ' + fileURLToPath(import.meta.url));
    dir = dirname(dir);
  }
  return (await import(pathToFileURL(join(dir, 'scripts', 'bundle-cni.mjs')).href)).bundleCni;
}

interface T {
  teardown(fn: () => unknown): void;
}

/** A bin dir holding `sextant-cni`; returns the dir, the wrapper's path and the bundle's path. */
export async function pluginBinDir(t: T): Promise<{ binDir: string; plugin: string; main: string }> {
  const binDir = await tempDir(t, 'cnibin');
  const main = join(binDir, 'sextant-cni.cjs');
  await (await loadBundler())(main);
  const plugin = await writeWrapper(binDir, main);
  return { binDir, plugin, main };
}
