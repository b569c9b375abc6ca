#!/usr/bin/env node
// Runs every test with tap, streams its output, and ends with the plain closing line
// "N passed, N failed, N skipped" (tap's own summary is a JSON-ish comment). Exit code is tap's.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tapBin = require.resolve('tap/package.json').replace(/package\.json$/, 'dist/esm/run.mjs');
const child = spawn(process.execPath, [tapBin, ...process.argv.slice(2)], { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  tail = (tail + d.toString()).slice(-4096);
});
child.on('close', (code, signal) => {
  const m = tail.match(/# \{ total: (\d+)([^}]*)\}/);
  const field = (name) => {
    const f = m?.[2].match(new RegExp(`${name}: (\\d+)`));
    return f ? Number(f[1]) : 0;
  };
  const passed = field('pass');
  const failed = field('fail') + (m ? 0 : 1);
  const skipped = field('skip') + field('todo');
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = code ?? (signal ? 1 : 0);
  if (failed && !process.exitCode) process.exitCode = 1;
});
