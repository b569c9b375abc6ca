/**
 * The dashboard's built front end (esbuild output of `dashboard/web`, see scripts/bundle-dashboard.mjs):
 * `index.html`, `app.js`, `app.css` in `dist/dashboard/web/`, read once at start and served from
 * memory. A missing build answers 503 naming the command that makes it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from '../common/index.js';

export const ASSET_FILES = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' } as const;
export type AssetName = keyof typeof ASSET_FILES;

/** `dist/dashboard/web` of this checkout, from the compiled module or from the source under tsx. */
export function defaultAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return import.meta.url.endsWith('.ts') ? join(here, '..', 'dist', 'dashboard', 'web') : join(here, 'web');
}

export class Assets {
  private files = new Map<AssetName, string>();
  private missing?: string;
  constructor(readonly dir: string) {}

  async load(): Promise<void> {
    try {
      for (const name of Object.keys(ASSET_FILES) as AssetName[]) this.files.set(name, await readFile(join(this.dir, name), 'utf8'));
      this.missing = undefined;
    } catch (e) {
      this.missing = `the dashboard is not built (${(e as Error).message}): run \`npm run build\``;
    }
  }

  get problem(): string | undefined {
    return this.missing;
  }

  reply(name: AssetName): Reply {
    const text = this.files.get(name);
    if (text === undefined) return { status: 503, text: `${this.missing ?? 'the dashboard is not loaded'}\n` };
    // index.html names the bundle with a content hash query, so the bundle may be cached; the page may not.
    const cache = name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
    return { text, contentType: ASSET_FILES[name], headers: { 'cache-control': cache, 'x-content-type-options': 'nosniff' } };
  }
}
