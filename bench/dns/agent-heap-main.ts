/**
 * `sextant` started the way the agent process starts it (agent/heap.ts: the agent's V8 flags set in
 * this process at start, not on the command line, so forked workers do not inherit them; agent/malloc.ts:
 * one malloc arena, by re-executing this process once with MALLOC_ARENA_MAX, which it then removes
 * from its environment, unless SEXTANT_AGENT_MALLOC_ARENAS=0), for the dispatcher rows with
 * `SEXTANT_BENCH_DISPATCHER_HEAP=agent`: `node agent-heap-main.js dispatcher ...`.
 */
import { capMallocArenas, limitYoungGeneration } from '../../agent/index.js';

capMallocArenas(process.env, { exec: true });
limitYoungGeneration();
await import('../../cli/sextant.js');
