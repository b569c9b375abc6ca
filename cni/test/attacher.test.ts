/**
 * The agent's NetworkAttacher: conflist on disk, a namespace per task with the task's IP and
 * resolv.conf, host ports, and detach that removes it all (twice is fine). Run with our plugin
 * and with the standard bridge + host-local.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireNetns, requireTools, createNetns, deleteNetns, runId, uniqueName, Netns } from '../../test/lib/index.js';
import { fetchText, serve, tempDir } from './helpers.js';
import { pluginBinDir } from './bundle.js';
import { CniAttacher } from '../attacher.js';

requireNetns();
requireTools('ip', 'nft', 'nsenter', '/usr/lib/cni/bridge', '/usr/lib/cni/host-local');

for (const plugins of ['sextant', 'standard'] as const) {
  t.test(`attach and detach with ${plugins} plugins`, async (t) => {
    const { binDir, main } = await pluginBinDir(t);
    const host = await createNetns(t, 'h');
    const confDir = await tempDir(t, 'cniconf');
    const network = `n${runId}${plugins[1]}`;
    const attacher = new CniAttacher({
      confDir,
      binDir,
      dataDir: await tempDir(t, 'cnidata'),
      pluginMain: main,
      networks: (n) => (n === network ? { subnet: '10.236.0.0/25', mtu: 1420 } : undefined),
      plugins,
      netnsPrefix: `sx${runId}a`,
      netns: host.name,
    });
    const taskId = `web.${uniqueName('task')}`;
    t.teardown(() => deleteNetns(attacher.netnsName(taskId)));

    const att = await attacher.attach({ task_id: taskId, network, port_mappings: [{ host_port: 8200, container_port: 80, protocol: 'tcp' }], nameservers: ['198.51.100.1', '198.51.100.2'] });
    t.match(att, { netns: attacher.netnsName(taskId), ip: /^10\.236\.0\.\d+$/ });
    const conflist = JSON.parse(await readFile(join(confDir, `${network}.conflist`), 'utf8'));
    t.match(conflist, { cniVersion: '1.0.0', name: network, plugins: [{ type: plugins === 'standard' ? 'bridge' : 'sextant-cni', bridge: `m-${network}`, mtu: 1420 }] });
    const task = new Netns(att.netns);
    t.match(await task.exec('cat', ['/etc/resolv.conf']), /nameserver 198\.51\.100\.1\nnameserver 198\.51\.100\.2/, 'resolv.conf seen inside the namespace');
    // A process already running in the task sees new nameservers (its /etc/resolv.conf is a bind
    // mount of the file's inode, made when it started): it waits on stdin, then reads the file.
    const running = spawn('ip', ['netns', 'exec', att.netns, 'sh', '-c', 'echo started; read go; cat /etc/resolv.conf'], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.teardown(() => running.kill('SIGKILL'));
    let seen = '';
    const started = new Promise<void>((r) => running.stdout.on('data', (d) => ((seen += d), /started/.test(seen) && r())));
    const ended = new Promise<void>((r) => running.once('close', () => r()));
    await started;
    const file = `/etc/netns/${att.netns}/resolv.conf`;
    const inode = statSync(file).ino;
    await attacher.setNameservers(att.netns, ['198.51.100.9']);
    running.stdin.end('go\n');
    await ended;
    t.match(seen, /nameserver 198\.51\.100\.9\n/, 'a task started before the change reads the new nameserver');
    t.notMatch(seen, /198\.51\.100\.1/, 'and not the old ones');
    t.equal(statSync(file).ino, inode, 'the file was rewritten in place');
    await serve(t, task, att.ip, 80, 'web');
    t.equal(await fetchText(host, att.ip, 80), 'web', 'agent reaches the task at its IP');
    t.equal(await fetchText(task, '10.236.0.1', 8200), 'web', 'host port 8200 maps to the task');

    await attacher.detach(taskId, network);
    await attacher.detach(taskId, network);
    t.notOk(existsSync(`/run/netns/${att.netns}`), 'namespace removed');
    t.notOk(existsSync(`/etc/netns/${att.netns}`), 'resolv.conf dir removed');
    await attacher.setNameservers(att.netns, ['198.51.100.9']);
    t.notOk(existsSync(`/etc/netns/${att.netns}`), 'a gone task gets no resolv.conf back');
    t.equal((await host.ip('-o', 'link', 'show', 'master', `m-${network}`)).trim(), '', 'no port left on the bridge');
    const again = await attacher.attach({ task_id: taskId, network, port_mappings: [], nameservers: [] });
    t.match(again.ip, /^10\.236\.0\.\d+$/, 'attach after detach works');
    await attacher.detach(taskId, network);
  });
}

t.test('unknown network is a clear error and leaves nothing behind', async (t) => {
  const attacher = new CniAttacher({ confDir: await tempDir(t), binDir: await tempDir(t), dataDir: await tempDir(t), networks: () => undefined, netnsPrefix: `sx${runId}u` });
  await t.rejects(attacher.attach({ task_id: 'x', network: 'nope', port_mappings: [], nameservers: [] }), { name: 'NotFoundError', message: /network "nope"/ });
  t.notOk(existsSync(`/run/netns/${attacher.netnsName('x')}`));
});
