// `npm run setup` (scripts/setup.mjs) on this machine's real dpkg, with package lists of our own:
// what it reports when everything is there, what it tells a non-root user, off Debian. The root
// install path itself (apt-get) runs on every fresh machine and in CI, not here.
import t from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTools, runId } from './lib/index.js';

const pexec = promisify(execFile);
const script = new URL('../scripts/setup.mjs', import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const tools = requireTools('dpkg-query', ...(isRoot ? ['setpriv'] : []));

const dir = mkdtempSync(join(tmpdir(), `sx${runId}setup-`));
chmodSync(dir, 0o755);
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function list(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o644 });
  return p;
}

// nobody may not reach the checkout (a clone under /root): it runs a copy from the temp dir.
const scriptCopy = join(dir, 'setup.mjs');
copyFileSync(script, scriptCopy);
chmodSync(scriptCopy, 0o644);

/** Run the script with a package list; `asUser` drops root to nobody first. */
async function setup(packages: string, opts: { asUser?: boolean; path?: string } = {}) {
  const env = { ...process.env, SEXTANT_SETUP_PACKAGES: packages, ...(opts.path ? { PATH: opts.path } : {}) };
  const [cmd, args] = opts.asUser && isRoot ? [tools.setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, scriptCopy]] : [process.execPath, [script]];
  const r = await pexec(cmd, args, { env, cwd: dir, timeout: 30_000 });
  return r.stdout;
}

t.test('everything installed: one line, nothing done; comments and blank lines ignored', async (t) => {
  const out = await setup(list('present.txt', '# the package manager itself is always there\n\ndpkg   # trailing comment\n'));
  t.match(out, /^setup: all 1 Debian packages of \S*present\.txt are installed\n$/);
  if (isRoot) t.ok(existsSync('/run/netns'), '/run/netns exists for ip netns');
});

t.test('not root with a package missing: says what it would install and how, exits 0', async (t) => {
  const absent = `sx${runId}-absent-package`;
  const out = await setup(list('absent.txt', `dpkg\n${absent}\n`), { asUser: true });
  t.match(out, `not root, so nothing installed. Missing Debian packages: ${absent}\n`);
  t.match(out, `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${absent}\n`);
  t.notMatch(out, /Missing Debian packages: .*dpkg/, 'installed packages are not listed');
});

t.test('no dpkg-query (not Debian): says so, exits 0', async (t) => {
  const out = await setup(list('any.txt', 'dpkg\n'), { path: join(dir, 'no-such-bin') });
  t.match(out, 'dpkg-query not found: not a Debian system, nothing installed. The tests need the equivalents of: dpkg');
});
