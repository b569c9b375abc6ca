#!/usr/bin/env node
/**
 * `sextant-cni`: the CNI plugin executable. Parses CNI_* and stdin, dispatches to the command,
 * prints the result (or the CNI error JSON with a non-zero exit) on stdout.
 */
import { runPlugin } from './plugin.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const { stdout, code } = await runPlugin(process.env, await readStdin());
if (stdout) process.stdout.write(stdout + '\n');
process.exitCode = code;
