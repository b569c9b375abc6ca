/**
 * The layering, read from the import graph of every .ts file (issue #23): components meet through
 * contracts/ and each other's index.ts; cli/ is only the composition root; contracts/ depends on
 * common/ alone; product code never imports test or bench code; nothing reads the design folder
 * beside the repository. Each violation prints as `file -> import`. The first test runs the checker
 * on a small graph that breaks every rule, so a checker that finds nothing fails.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { checkLayers, filesNamingShared, importsOf, readImportGraph, type ImportGraph } from './lib/import-graph.js';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

t.test('the checker finds each kind of violation', async (t) => {
  t.same(importsOf('l4lb/plugin.ts', "import type { X } from '../cli/plugins.js';\nexport * from './a.js';\nconst m = await import('../control/client.js');\ntype R = import('../common/http.js').Router;"), [
    'cli/plugins.js',
    'l4lb/a.js',
    'control/client.js',
    'common/http.js',
  ]);
  const graph: ImportGraph = new Map([
    ['l4lb/plugin.ts', ['cli/plugins.js', 'control/client.js', 'control/index.js', 'contracts/index.js', 'common/log.js', 'l4lb/x.js']],
    ['dns/dispatcher/test/plugin.test.ts', ['cli/plugins.js', 'test/lib/index.js', 'master/protocol.js']],
    ['contracts/index.ts', ['common/http.js', 'master/index.js']],
    ['overlay/agent.ts', ['test/lib/index.js', 'bench/lib/stats.js', 'overlay/bench/scale.js']],
    ['overlay/bench/scale.ts', ['test/lib/index.js', 'cli/up.js', 'control/engine.js']],
    ['cli/plugins.ts', ['control/index.js', 'l4lb/plugin.js']],
    ['bench/l4lb/traffic.ts', ['l4lb/userspace/driver.js', 'test/lib/proc.js']],
  ]);
  t.same(checkLayers(graph), {
    importsCli: ['l4lb/plugin.ts -> cli/plugins.js', 'dns/dispatcher/test/plugin.test.ts -> cli/plugins.js'],
    crossesComponents: ['l4lb/plugin.ts -> control/client.js', 'dns/dispatcher/test/plugin.test.ts -> master/protocol.js'],
    contractsNotLeaf: ['contracts/index.ts -> master/index.js'],
    productImportsTestOrBench: ['overlay/agent.ts -> test/lib/index.js', 'overlay/agent.ts -> bench/lib/stats.js', 'overlay/agent.ts -> overlay/bench/scale.js'],
  });
});

t.test('the repository keeps its layers', async (t) => {
  const graph = readImportGraph(root);
  t.ok(graph.size > 100, `read ${graph.size} files`);
  const v = checkLayers(graph);
  const show = (list: string[]) => (list.length ? `\n  ${list.join('\n  ')}` : '');
  t.same(v.importsCli, [], `(1) no component file imports cli/${show(v.importsCli)}`);
  t.same(v.crossesComponents, [], `(2) components import each other only through index.ts, contracts/ or common/${show(v.crossesComponents)}`);
  t.same(v.contractsNotLeaf, [], `(3) contracts/ imports only common/${show(v.contractsNotLeaf)}`);
  t.same(v.productImportsTestOrBench, [], `(4) product code imports neither test nor bench code${show(v.productImportsTestOrBench)}`);
});

t.test('no file reads the design folder beside the repository', async (t) => {
  const found = filesNamingShared(root);
  t.same(found, [], `files naming it:${found.length ? `\n  ${found.join('\n  ')}` : ''}`);
});
