/**
 * Scripts started as child processes live beside the module that starts them: compiled `.js`
 * under dist/, or `.ts` run through tsx when the caller itself runs from source.
 */
import { fileURLToPath } from 'node:url';

/** The path of script `name` (no extension) beside the module at `metaUrl`. */
export function siblingPath(metaUrl: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${metaUrl.endsWith('.ts') ? '.ts' : '.js'}`, metaUrl));
}

/** Node arguments that run script `name` beside the module at `metaUrl` (with tsx for `.ts`). */
export function siblingArgv(metaUrl: string, name: string): string[] {
  const file = siblingPath(metaUrl, name);
  return file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
}
