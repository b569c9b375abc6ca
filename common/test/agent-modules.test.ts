/**
 * What loading the agent's modules does not load (issue #26, the agent's memory): the YAML parser
 * (loaded on the first YAML config file only), Mesos-DNS and its ZooKeeper client (the agent's
 * dispatcher comes from dns/dispatcher/index.js). Checked in a fresh process on the built modules; a
 * YAML file still parses. The overlay and l4lb take the parts of the netlink package they use.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built tree (this file runs from source under tap, or built under dist/). */
const dist = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/' : '../../', import.meta.url));

function run(script: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
  );
}

const LOADED = `const { createRequire } = await import('node:module');
  const cache = Object.keys(createRequire(import.meta.url).cache);
  const has = (part) => cache.some((f) => f.includes(part));`;

t.test('the agent command and its dispatcher load no YAML parser, Mesos-DNS or ZooKeeper client', async (t) => {
  // The agent's service builders as the agent runs them (cli/plugins.ts), the dispatcher alone; a build
  // that fails on the bare handle given here is logged and skipped, after its module was loaded.
  const out = await run(`await import(${JSON.stringify(join(dist, 'cli/agent.js'))});
    const { agentServices } = await import(${JSON.stringify(join(dist, 'cli/plugins.js'))});
    const { createRegistry, setLogSink } = await import(${JSON.stringify(join(dist, 'common/index.js'))});
    setLogSink({ write() {} });
    const builders = agentServices({ registry: createRegistry() });
    for (const b of builders) await b();
    ${LOADED}
    console.log(JSON.stringify({ builders: builders.length, yaml: has('/node_modules/yaml/'), zookeeper: has('/node-zookeeper-client/') }));`, { SEXTANT_NODE_SERVICES: 'dispatcher' });
  t.same(JSON.parse(out), { builders: 2, yaml: false, zookeeper: false }, 'diag and the dispatcher built; none of them loaded');
});

t.test("the overlay and l4lb components load the netlink package's parts, not its Wi-Fi and WireGuard structs", async (t) => {
  const out = await run(`await import(${JSON.stringify(join(dist, 'overlay/index.js'))});
    await import(${JSON.stringify(join(dist, 'l4lb/index.js'))});
    ${LOADED}
    console.log(JSON.stringify({ rt: has('/netlink/dist/rt/rt.js'), nl80211: has('/netlink/dist/nl80211/'), wg: has('/netlink/dist/wg/') }));`);
  t.same(JSON.parse(out), { rt: true, nl80211: false, wg: false });
});

t.test('a YAML config file is parsed (the parser loaded then)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-yaml-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'a: 1\nlist: [x, y]\n');
  const out = await run(`const { loadConfigFile } = await import(${JSON.stringify(join(dist, 'common/config.js'))});
    const v = loadConfigFile(${JSON.stringify(file)});
    ${LOADED}
    console.log(JSON.stringify({ v, yaml: has('/node_modules/yaml/') }));`);
  t.same(JSON.parse(out), { v: { a: 1, list: ['x', 'y'] }, yaml: true });
});
