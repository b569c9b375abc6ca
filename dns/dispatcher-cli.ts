/**
 * `sextant dispatcher --config FILE`: the node DNS dispatcher as its own daemon, with a metrics
 * endpoint when the config has `metrics`.
 */
import { loadConfigFile } from '../common/config.js';
import { untilSignal } from '../common/daemon.js';
import { Router, serve } from '../common/http.js';
import { createLogger } from '../common/log.js';
import { collectProcessMetrics, createRegistry } from '../common/metrics.js';
import { Dispatcher, parseDispatcherConfig } from './dispatcher/index.js';

const usage = 'usage: sextant dispatcher --config FILE\n';

export async function main(argv: string[]): Promise<number> {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-config') file = argv[++i];
    else if (a.startsWith('--config=')) file = a.slice('--config='.length);
    else if (a === '-h' || a === '--help') {
      process.stdout.write(usage);
      return 0;
    } else {
      process.stderr.write(`sextant dispatcher: unknown argument '${a}'\n${usage}`);
      return 2;
    }
  }
  if (!file) {
    process.stderr.write(`sextant dispatcher: --config FILE is required\n${usage}`);
    return 2;
  }
  const log = createLogger('dispatcher');
  let config;
  try {
    config = parseDispatcherConfig(loadConfigFile(file));
  } catch (e) {
    process.stderr.write(`sextant dispatcher: bad config: ${(e as Error).message}\n`);
    return 2;
  }
  const registry = createRegistry();
  collectProcessMetrics(registry);
  const d = new Dispatcher(config, { registry, log });
  await d.start();
  const http = config.metrics ? await serve(new Router().metrics(registry), config.metrics) : undefined;
  const addrs = d.addresses().map((a) => `${a.transport}://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`);
  const metrics = http ? ` metrics http://${http.address().host}:${http.address().port}/metrics` : '';
  process.stdout.write(`sextant dispatcher listening on ${addrs.join(' ')}${metrics}\n`);
  await untilSignal();
  await http?.close();
  await d.stop();
  return 0;
}
