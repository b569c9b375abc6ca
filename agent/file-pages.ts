/**
 * The pages of the `node` binary (and the shared libraries and native modules) that only the start
 * touched, given back once the agent is up (issue #26). Starting Node and loading the agent's
 * modules maps about 44 MiB of the binary (V8's snapshot and bootstrap, the compilers, ICU, the
 * TLS and HTTP/2 code of the control plane's client) where a running agent uses about half; those
 * pages stayed in the agent's RSS for its life. `dropFilePages()` reads /proc/self/smaps and, for
 * every private read-only mapping of a file that holds no anonymous (copied) page, asks the kernel
 * to unmap its pages (madvise MADV_DONTNEED, native/malloctrim.c). Nothing changes for the program:
 * the pages stay in the page cache (shared with every other `node`), and a page used again is mapped
 * again from there on its next touch (a minor fault, no disk read while it is cached); what goes is
 * this process's mapping of what it no longer uses. RSS counts mapped pages, so VmRSS (RssFile) falls
 * by what the start alone used; physical memory is freed only as the kernel reclaims cache.
 * The agent does it once, `FILE_PAGES_DELAY_MS` after it starts (its services started and the
 * control plane's first version applied by then); `SEXTANT_AGENT_DROP_FILE_PAGES=0` turns it off.
 */
import { readFileSync } from 'node:fs';
import { loadNative } from '../common/native.js';

export const FILE_PAGES_DELAY_MS = 30_000;

interface Addon {
  dropFilePages(start: number, end: number): boolean;
}

export interface FileMapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  rssKb: number;
  anonymousKb: number;
}

/** The file-backed mappings of an smaps text, with their resident and anonymous kB. */
export function fileMappings(smaps: string): FileMapping[] {
  const out: FileMapping[] = [];
  let cur: FileMapping | undefined;
  for (const line of smaps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      cur = m[4]!.startsWith('/') ? { start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16), perms: m[3]!, path: m[4]!, rssKb: 0, anonymousKb: -1 } : undefined;
      if (cur) out.push(cur);
      continue;
    }
    if (!cur) continue;
    const f = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f) cur[f[1] === 'Rss' ? 'rssKb' : 'anonymousKb'] = Number(f[2]);
  }
  return out;
}

/** Which mappings may be dropped: private, not writable, every resident page the file's own. */
export function droppable(m: FileMapping): boolean {
  return m.perms[1] === '-' && m.perms[3] === 'p' && m.anonymousKb === 0 && m.rssKb > 0 && !m.path.endsWith(' (deleted)');
}

/**
 * Unmap the clean file pages of this process now (see above). Returns the kB that were mapped in the
 * mappings dropped, or undefined without the native module.
 */
export function dropFilePages(smapsPath = '/proc/self/smaps'): number | undefined {
  const addon = loadNative<Addon>('malloctrim');
  if (!addon?.dropFilePages) return undefined;
  let kb = 0;
  for (const m of fileMappings(readFileSync(smapsPath, 'utf8'))) {
    if (droppable(m) && addon.dropFilePages(m.start, m.end)) kb += m.rssKb;
  }
  return kb;
}

/** Drop them once, `ms` from now, on a timer that keeps nothing alive; returns its cancel. Off with SEXTANT_AGENT_DROP_FILE_PAGES=0. */
export function scheduleFilePageDrop(ms = FILE_PAGES_DELAY_MS): () => void {
  if (process.env.SEXTANT_AGENT_DROP_FILE_PAGES === '0') return () => {};
  const timer = setTimeout(() => dropFilePages(), ms);
  timer.unref();
  return () => clearTimeout(timer);
}
