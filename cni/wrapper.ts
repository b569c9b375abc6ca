/**
 * tsc does not set the executable bit, so whoever installs the plugin into a CNI bin dir writes a
 * tiny `sextant-cni` shell wrapper that execs node on the compiled (or bundled) entry point.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PLUGIN_TYPE = 'sextant-cni';

/** Write `<binDir>/sextant-cni` running `mainJs` with this node; returns its path. */
export async function writeWrapper(binDir: string, mainJs: string, node = process.execPath): Promise<string> {
  await mkdir(binDir, { recursive: true });
  const path = join(binDir, PLUGIN_TYPE);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // The plugin makes no TLS connections: skip Node parsing an extra CA bundle at every start (~35 ms).
  await writeFile(path, `#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nexec ${q(node)} ${q(mainJs)} "$@"\n`);
  await chmod(path, 0o755);
  return path;
}
