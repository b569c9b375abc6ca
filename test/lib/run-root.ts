/**
 * Every test process gets a runtime root of its own (SEXTANT_RUN_ROOT, inherited by the masters it spawns),
 * removed when it exits: the nginx fronts' runtime directories (and their sweep of dead ones) stay out of
 * the host's /run/sextant, where other runs' live fronts are. A root set by the caller is kept as it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runId } from './names.js';

function ownRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sx${runId}-run-`));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export const testRunRoot: string = process.env.SEXTANT_RUN_ROOT || (process.env.SEXTANT_RUN_ROOT = ownRoot());
