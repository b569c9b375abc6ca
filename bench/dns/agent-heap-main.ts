/**
 * `sextant` started the way the agent process starts it (agent/heap.ts: the agent's V8 flags set in
 * this process at start, not on the command line, so forked workers do not inherit them), for the
 * dispatcher rows with `SEXTANT_BENCH_DISPATCHER_HEAP=agent`: `node agent-heap-main.js dispatcher ...`.
 */
import { limitYoungGeneration } from '../../agent/index.js';

limitYoungGeneration();
await import('../../cli/sextant.js');
