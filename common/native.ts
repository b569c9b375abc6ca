/**
 * Loads a module built from `native/` (see scripts/build-native.mjs). Found from the sources
 * (`common/`) and from the build (`dist/common/`); undefined when it was not built, and callers
 * then keep their pure-JavaScript path.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export function loadNative<T>(name: 'udpbatch' | 'tcprelay' | 'nfnetlink' | 'malloctrim' | 'memrelease'): T | undefined {
  const req = createRequire(import.meta.url);
  for (const rel of [`../native/build/Release/${name}.node`, `../../native/build/Release/${name}.node`]) {
    const path = new URL(rel, import.meta.url);
    if (existsSync(path)) return req(fileURLToPath(path)) as T;
  }
  return undefined;
}
