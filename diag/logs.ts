/**
 * The log files a node serves for `sextant diag bundle`, read-only: the process's own log (the file
 * its stderr goes to, named by SEXTANT_LOG_FILE; `sextant up` sets it) and the log files in its
 * work dir (task sandboxes' `stdout`/`stderr`, any `*.log`). A file is served only by a name from
 * this listing, so no request can name a path of its own.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface LogSources {
  /** Undefined: only the process log. */
  workDir?: string;
  /** The process's own log file (SEXTANT_LOG_FILE). */
  logFile?: string;
}

export interface LogFile {
  name: string;
  size: number;
}

const MAX_FILES = 500;
const MAX_DEPTH = 4;
/** The tail served of a bigger file. */
export const MAX_LOG_BYTES = 8 * 1024 * 1024;

const isLog = (name: string) => name === 'stdout' || name === 'stderr' || name.endsWith('.log');

/** name -> absolute path, sorted by name. */
export async function listLogs(src: LogSources): Promise<Map<string, { path: string; size: number }>> {
  const out = new Map<string, { path: string; size: number }>();
  if (src.logFile) {
    const s = await stat(src.logFile).catch(() => undefined);
    if (s?.isFile()) out.set('process.log', { path: src.logFile, size: s.size });
  }
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || out.size >= MAX_FILES) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (out.size >= MAX_FILES) return;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile() && isLog(e.name) && p !== src.logFile) {
        const s = await stat(p).catch(() => undefined);
        if (s) out.set(`workdir/${relative(src.workDir!, p)}`, { path: p, size: s.size });
      }
    }
  };
  if (src.workDir) await walk(src.workDir, 0);
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The file's text (its last MAX_LOG_BYTES), or undefined when `name` is not in the listing. */
export async function readLog(src: LogSources, name: string): Promise<string | undefined> {
  const f = (await listLogs(src)).get(name);
  if (!f) return undefined;
  const fh = await open(f.path, 'r');
  try {
    const size = (await fh.stat()).size;
    const start = Math.max(0, size - MAX_LOG_BYTES);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}
