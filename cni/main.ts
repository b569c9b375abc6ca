#!/usr/bin/env node
/**
 * `sextant-cni`: the CNI plugin executable. Parses CNI_* and stdin, dispatches to the command,
 * prints the result (or the CNI error JSON with a non-zero exit) on stdout. No top-level await:
 * `scripts/bundle-cni.mjs` bundles this into one CommonJS file, `dist/cni/sextant-cni.cjs`.
 */
import { runPlugin } from './plugin.js';
import { readStdin, writeStdout } from './stdio.js';

void readStdin()
  .then((stdin) => runPlugin(process.env, stdin))
  .then(({ stdout, code }) => {
    if (stdout) writeStdout(stdout + '\n');
    process.exitCode = code;
  });
