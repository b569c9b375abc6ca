#!/usr/bin/env node
/**
 * `npm run setup`: makes this machine ready for the tests and `sextant up`. Installs the Debian
 * packages of scripts/debian-packages.txt that are missing (as root: one `apt-get update`, then
 * `apt-get install --no-install-recommends`) and creates /run/netns. Not root: prints what it would
 * install and the command to do it, and exits 0 (a test whose tool is missing then fails naming it).
 * Quick and silent but for one line when nothing is missing. Run before `npm test` and `npm run up`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Another list only for the setup script's own test (test/setup.test.ts).
const listFile = process.env.SEXTANT_SETUP_PACKAGES ?? join(root, 'scripts', 'debian-packages.txt');
const say = (s) => process.stdout.write(`setup: ${s}\n`);

/** The package names of the list: one a line, `#` comments and blank lines ignored. */
function readPackages(text) {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
}

/** Packages of `wanted` that dpkg does not have fully installed ("install ok installed"). */
function missingPackages(wanted) {
  // One dpkg-query for all: it prints the known ones and exits 1 when some are unknown.
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...wanted], { encoding: 'utf8' });
  if (r.error) return undefined;
  const installed = new Set();
  for (const line of r.stdout.split('\n')) {
    const [name, ...status] = line.trim().split(/\s+/);
    if (name && status.join(' ') === 'install ok installed') installed.add(name.replace(/:.*/, ''));
  }
  return wanted.filter((p) => !installed.has(p));
}

function run(cmd, args) {
  say(`${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    process.stderr.write(`setup: \`${cmd} ${args.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})\n`);
    process.exit(1);
  }
}

function main() {
  const wanted = readPackages(readFileSync(listFile, 'utf8'));
  const isRoot = process.getuid?.() === 0;
  const missing = missingPackages(wanted);
  if (missing === undefined) {
    say(`dpkg-query not found: not a Debian system, nothing installed. The tests need the equivalents of: ${wanted.join(' ')}`);
    return;
  }
  if (isRoot) mkdirSync('/run/netns', { recursive: true });
  if (missing.length === 0) {
    say(`all ${wanted.length} Debian packages of ${relative(root, listFile)} are installed`);
    return;
  }
  if (!isRoot) {
    say(`not root, so nothing installed. Missing Debian packages: ${missing.join(' ')}`);
    say(`to install them: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`);
    say('tests that need them fail and name what is missing');
    return;
  }
  say(`installing ${missing.length} missing Debian package(s): ${missing.join(' ')}`);
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  // The compiler may have just arrived: build the native modules the first build had to skip.
  if (existsSync(join(root, 'node_modules', 'node-gyp'))) run(process.execPath, [join(root, 'scripts', 'build-native.mjs')]);
}

main();
