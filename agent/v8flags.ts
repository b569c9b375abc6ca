/**
 * V8 flags the `sextant agent` command gives itself on the command line of its one re-exec at start
 * (agent/malloc.ts `capMallocArenas`, issue #26), for settings V8 reads only when it creates its
 * heap, and so that the run-time ones (agent/heap.ts) hold from the first allocation:
 *
 * - `--max-semi-space-size=1`: the young generation's semi-spaces stay at 1 MiB each (Node 20 lets
 *   them grow to 16 MiB; `--semi-space-growth-factor=1` at run time only stops the doubling, and
 *   V8 still resized them: 2 MiB after the bench's changes).
 * - `--semi-space-growth-factor=1`, `--optimize-for-size`: agent/heap.ts, from the start instead of
 *   from the first line of `main`.
 *
 * Env `SEXTANT_AGENT_V8_FLAGS`: unset, `1` or `on` for these; `0` or `off` for none; or a
 * space-separated list of `--name[=value]` flags used instead (to measure others; node refuses an
 * unknown one at the re-exec, naming it). A flag the operator already gave (in NODE_OPTIONS or on
 * node's command line, `_` or `-`, with or without `--no-`) is not given again: theirs holds. The
 * re-executed agent removes the flags it added from `process.execArgv`, so the processes it forks
 * (the DNS dispatcher's workers) do not inherit them; tasks are spawned, never with node's flags.
 */
import { AGENT_V8_FLAGS } from './heap.js';

export const AGENT_START_V8_FLAGS = ['--max-semi-space-size=1', ...AGENT_V8_FLAGS] as const;

const FLAG = /^--[A-Za-z][\w-]*(=[\w.,:-]+)?$/;

/** A flag's name without dashes' spelling, `--no-`, or value: `--max_semi_space_size=2` -> `max-semi-space-size`. */
function flagName(flag: string): string {
  return flag
    .replace(/^--/, '')
    .replace(/=.*$/, '')
    .replace(/_/g, '-')
    .replace(/^no-/, '');
}

/**
 * The flags to add to node's command line for the agent: from `SEXTANT_AGENT_V8_FLAGS` (checked:
 * a bad value throws, naming it), less those the operator gave already in `env.NODE_OPTIONS` or
 * `execArgv` (node's own command line).
 */
export function agentV8Flags(env: NodeJS.ProcessEnv, execArgv: readonly string[] = process.execArgv): string[] {
  const raw = env.SEXTANT_AGENT_V8_FLAGS?.trim();
  let wanted: readonly string[];
  if (raw === undefined || raw === '1' || raw === 'on') wanted = AGENT_START_V8_FLAGS;
  else if (raw === '0' || raw === 'off') wanted = [];
  else {
    wanted = raw.split(/\s+/);
    const bad = wanted.find((f) => !FLAG.test(f));
    if (raw === '' || bad !== undefined) throw new Error(`SEXTANT_AGENT_V8_FLAGS='${env.SEXTANT_AGENT_V8_FLAGS}': 1/on (the default flags), 0/off (none), or space-separated --name[=value] flags${bad ? ` ('${bad}' is not one)` : ''}`);
  }
  const operators = new Set([...nodeOptions(env.NODE_OPTIONS ?? ''), ...execArgv].filter((a) => a.startsWith('--')).map(flagName));
  return wanted.filter((f) => !operators.has(flagName(f)));
}

/** NODE_OPTIONS split as node splits it: on spaces, a double-quoted part is one (backslash escapes in it). */
export function nodeOptions(s: string): string[] {
  return [...s.matchAll(/"((?:\\.|[^"\\])*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));
}

/** Remove `added` (the flags the re-exec put after node's own) from the end of `execArgv`, in place. */
export function dropAddedFlags(execArgv: string[], added: readonly string[]): void {
  const tail = execArgv.slice(execArgv.length - added.length);
  if (added.length && tail.length === added.length && tail.every((a, i) => a === added[i])) execArgv.splice(execArgv.length - added.length);
}
