/**
 * Start-up cost of the plugin: the build bundles it into one CommonJS file holding only cni/, the
 * small common/ files it shares (errors, proc, netns, cidr) and ipaddr.js, loading only cheap Node
 * built-ins; an ADD onto an existing bridge runs `ip` twice (host side, task side; the task side's
 * `ip netns exec` that starts it is not counted) and `nft` only when port mappings are asked for. Counted with
 * logging shims for `ip`, `nft` and `nsenter` first in the plugin's PATH.
 */
import t from 'tap';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireNetns, requireTools, createNetns, uniqueName } from '../../test/lib/index.js';
import { pluginBinDir } from './bundle.js';
import { config, env, execPlugin, netName, tempDir } from './helpers.js';

requireNetns();
const tools = requireTools('ip', 'nft', 'nsenter');

const ALLOWED_BUILTINS = ['node:child_process', 'node:fs', 'node:path', 'node:tty'];

t.test('the bundle is one CommonJS file with cheap built-ins only', async (t) => {
  const { main, plugin } = await pluginBinDir(t);
  const src = await readFile(main, 'utf8');
  t.ok(src.startsWith('#!/usr/bin/env node\n'), 'executable on its own');
  t.notMatch(src, /\bimport\s*\(|^import /m, 'no ESM import left');
  const required = [...new Set([...src.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))].sort();
  t.same(required.filter((r) => !ALLOWED_BUILTINS.includes(r!)), [], `only ${ALLOWED_BUILTINS.join(', ')} (no crypto, no packages)`);
  const host = await createNetns(t, 'h');
  const v = await execPlugin(plugin, host, { CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' });
  t.same(v.out, { cniVersion: '1.0.0', supportedVersions: ['1.0.0', '1.1.0'] }, 'VERSION through the bundle');
});

/** A dir of shims logging `<tool> <args>` to `log`, then running the real tool. */
async function shims(t: Parameters<typeof tempDir>[0]): Promise<{ dir: string; calls: () => Promise<string[]>; reset: () => Promise<void> }> {
  const dir = await tempDir(t, 'shim');
  const log = join(dir, 'calls.log');
  for (const [name, real] of Object.entries(tools)) {
    await writeFile(join(dir, name), `#!/bin/sh\necho "${name} $*" >> '${log}'\nexec '${real}' "$@"\n`);
    await chmod(join(dir, name), 0o755);
  }
  await writeFile(log, '');
  return {
    dir,
    // The `ip netns exec <host>` that starts the plugin is the harness, not the plugin; the
    // `ip netns exec <task>` the plugin runs execs the `ip` that is counted.
    calls: async () => (await readFile(log, 'utf8')).split('\n').filter((l) => l && !l.startsWith('ip netns exec ')),
    reset: () => writeFile(log, ''),
  };
}

t.test('kernel commands per command run', async (t) => {
  const { plugin } = await pluginBinDir(t);
  const host = await createNetns(t, 'h');
  const sh = await shims(t);
  const PATH = `${sh.dir}:${process.env.PATH}`;
  const conf = config({ cniVersion: '1.1.0', name: netName(), dataDir: await tempDir(t), subnet: '10.236.0.0/24' });
  const run = async (command: string, id: string, ns: string, c: unknown) => {
    await sh.reset();
    const r = await execPlugin(plugin, host, { ...env(command, id, ns), PATH }, c);
    t.equal(r.code, 0, `${command}: ${JSON.stringify(r.out)} ${r.stderr}`);
    return (await sh.calls()).map((l) => l.split(' ')[0]);
  };
  const first = (await createNetns(t, 't')).name;
  await run('ADD', uniqueName('c'), first, conf); // creates the bridge: not counted

  // DEL always looks for a port-map chain (one `nft` listing), and deletes it when there is one.
  const rows: [string, Record<string, unknown>, string[], string[]][] = [
    ['ADD onto an existing bridge', conf, ['ip', 'ip'], ['nft', 'ip']],
    ['ADD with a port mapping', { ...conf, runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } }, ['ip', 'ip', 'nft'], ['nft', 'nft', 'ip']],
  ];
  for (const [what, c, add, del] of rows) {
    const id = uniqueName('c');
    const ns = (await createNetns(t, 't')).name;
    t.same(await run('ADD', id, ns, c), add, what);
    t.same(await run('DEL', id, ns, c), del, `DEL after ${what}`);
  }
});
