/**
 * dns benchmarks: Mesos-DNS (./mesos.ts), then the dispatcher (./dispatcher.ts) when present.
 * SEXTANT_BENCH_DNS=mesos (or =dispatcher) runs only that part.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bench as mesos } from './mesos.js';

export async function bench(): Promise<string> {
  const only = process.env.SEXTANT_BENCH_DNS;
  const parts = only && only !== 'mesos' ? [] : [await mesos()];
  if (only === 'mesos') return parts.join('\n');
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  if (existsSync(fileURLToPath(new URL(`./dispatcher${ext}`, import.meta.url)))) {
    const spec = './dispatcher.js';
    const d = (await import(spec)) as { bench?: () => Promise<string>; benchDispatcher?: () => Promise<string> };
    const run = d.bench ?? d.benchDispatcher;
    try {
      parts.push(run ? await run() : '## Dispatcher\n\n(dispatcher.ts exports no bench function)\n');
    } catch (e) {
      parts.push(`## Dispatcher\n\nbenchmark failed: ${(e as Error).message}\n`);
    }
  }
  return parts.join('\n');
}
