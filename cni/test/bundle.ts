/**
 * Builds the plugin for tests and benchmarks: one bundled file (esbuild, which tsx brings) and
 * the `sextant-cni` shell wrapper the agent also writes, in a temporary CNI bin dir.
 */
import { chmod } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { tempDir } from './helpers.js';
import { writeWrapper } from '../wrapper.js';

const here = dirname(fileURLToPath(import.meta.url));

interface T {
  teardown(fn: () => unknown): void;
}

/** A bin dir holding `sextant-cni`; returns the dir and the wrapper's path. */
export async function pluginBinDir(t: T): Promise<{ binDir: string; plugin: string }> {
  const binDir = await tempDir(t, 'cnibin');
  const outfile = join(binDir, 'sextant-cni.mjs');
  await build({ entryPoints: [join(here, '..', 'main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'error' });
  const plugin = await writeWrapper(binDir, outfile);
  await chmod(outfile, 0o644);
  return { binDir, plugin };
}
