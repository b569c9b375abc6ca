#!/usr/bin/env node
// Runs every test with tap, streams its output, and ends with a list of what failed (the subtest
// path of each `not ok` line and the start of its diagnostics, so a CI excerpt that shows only the
// end of the log still names the failure) and the plain closing line
// "N passed, N failed, N skipped" (tap's own summary is a JSON-ish comment). Exit code is tap's.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tapBin = require.resolve('tap/package.json').replace(/package\.json$/, 'dist/esm/run.mjs');
const child = spawn(process.execPath, [tapBin, ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });

const MAX_FAILURES = 30;
const MAX_DIAG_LINES = 25;
const failures = [];
const path = []; // subtest names by depth (4 spaces of indentation per level)
let diag = null; // the failure whose YAML diagnostics are being read, with their indentation
let partial = '';
let tail = '';

function onLine(line) {
  const indent = line.match(/^ */)[0].length;
  const depth = Math.floor(indent / 4);
  if (diag) {
    if (line.trim() === '...' && indent === diag.indent) diag = null;
    else if (diag.lines.length < MAX_DIAG_LINES) diag.lines.push(line.slice(diag.indent));
    if (diag) return;
  }
  const sub = line.match(/^ *# Subtest: (.*)$/);
  if (sub) {
    path.length = depth;
    path[depth] = sub[1];
    return;
  }
  const notOk = line.match(/^ *not ok \d+ - (.*)$/);
  if (notOk && failures.length < MAX_FAILURES && !/# (SKIP|TODO)/.test(line)) {
    const f = { path: path.slice(0, depth).filter(Boolean), line: notOk[1], lines: [], indent: indent + 2 };
    failures.push(f);
    diag = f;
  }
}

child.stdout.on('data', (d) => {
  const text = d.toString();
  process.stdout.write(text);
  tail = (tail + text).slice(-4096);
  const lines = (partial + text).split('\n');
  partial = lines.pop();
  for (const l of lines) onLine(l);
});
child.on('close', (code, signal) => {
  if (partial) onLine(partial);
  const m = tail.match(/# \{ total: (\d+)([^}]*)\}/);
  const field = (name) => {
    const f = m?.[2].match(new RegExp(`${name}: (\\d+)`));
    return f ? Number(f[1]) : 0;
  };
  const passed = field('pass');
  const failed = field('fail') + (m ? 0 : 1);
  const skipped = field('skip') + field('todo');
  // A parent reports `not ok` for a failed child too: list only the innermost failures.
  const inner = failures.filter((f) => !failures.some((g) => g !== f && g.path.length > f.path.length &&
    g.path.slice(0, f.path.length + 1).join('\u0000') === [...f.path, f.line.replace(/ # time=.*$/, '')].join('\u0000')));
  if (inner.length) {
    process.stdout.write('\n# What failed\n');
    for (const f of inner) {
      process.stdout.write(`\nnot ok: ${[...f.path, f.line].join(' > ')}\n`);
      for (const l of f.lines) process.stdout.write(`    ${l}\n`);
    }
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = code ?? (signal ? 1 : 0);
  if (failed && !process.exitCode) process.exitCode = 1;
});
