/**
 * A ZkEnsemble's servers run in process groups of their own: when the process that started them
 * ends without stop() (it exits, or a test runner's timeout sends it SIGTERM), they are killed
 * with it instead of being left running.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive, eventually, freePort, requireZooKeeperServer, spawnTracked, uniqueName } from '../../test/lib/index.js';

requireZooKeeperServer();
const CHILD = fileURLToPath(new URL('./fixtures/ensemble-orphan.ts', import.meta.url));

for (const how of ['exit', 'signal'] as const) {
  t.test(`the servers die with the process that started them (${how === 'exit' ? 'process.exit' : 'SIGTERM'})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `${uniqueName('zkexit')}-`));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const ports = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    const child = spawnTracked(t, process.execPath, ['--import', 'tsx', CHILD, dir, ports.join(','), how]);
    const m = await child.waitFor(/\{"pid":(\d+)\}/, 60_000);
    const pid = Number(m[1]);
    // Should the hook fail, the server must not outlive the test either.
    t.teardown(() => {
      if (alive(pid)) process.kill(-pid, 'SIGKILL');
    });
    t.ok(alive(pid), `the ZooKeeper server (pid ${pid}) runs`);
    if (how === 'signal') child.kill('SIGTERM');
    await child.exited;
    await eventually(() => !alive(pid), 10_000, 50, `ZooKeeper server pid ${pid} to exit`);
    t.notOk(alive(pid), 'the ZooKeeper server exited with its parent');
  });
}
