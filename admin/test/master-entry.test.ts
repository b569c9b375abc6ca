/**
 * Issue 30, wiring: `sextant master --admin-port` serves the entry point with the operator's
 * certificate (--admin-cert/--admin-key) or one it issues from the cluster CA in --ca-dir; a
 * certificate file that is not there stops the master with a message naming it.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { ensureCa, issueCert } from '../../common/index.js';
import { freePort, loopbackBlock } from '../../test/lib/index.js';
import { request, spawnMaster, tmpDir } from './lib.js';

t.setTimeout(120_000);

t.test('operator certificate', async (t) => {
  const dir = tmpDir(t, 'op');
  const ca = await ensureCa(path.join(dir, 'ca'), 'Operator CA');
  const ip = loopbackBlock()(1);
  const port = await freePort(ip);
  const leaf = await issueCert(ca, dir, 'op', { cn: 'entry.example', usage: 'server', ips: [ip] });
  const m = await spawnMaster(t, ['--admin-port', String(port), '--admin-cert', leaf.cert, '--admin-key', leaf.key], {}, ip);
  t.match(m.proc.output(), /\(entry https:\/\/.*\)/, 'the master says where the entry point listens');
  const url = m.proc.output().match(/\(entry (https:\/\/[^)]+)\)/)![1]!;
  const r = await request(`${url}/marathon/ping`, fs.readFileSync(ca.cert));
  t.equal(r.body, 'pong', 'served with the operator certificate (trusted through the operator CA only)');
  t.notOk(fs.existsSync(path.join(m.workDir, 'pki')), 'no cluster CA made when the operator gives a certificate');
});

t.test('cluster CA certificate, and a missing certificate file', async (t) => {
  const caDir = path.join(tmpDir(t, 'ca'), 'pki');
  const m = await spawnMaster(t, ['--admin-port', '0', '--ca-dir', caDir]);
  t.match(m.proc.output(), /\(entry https:\/\//, 'listening');
  t.equal(fs.statSync(path.join(caDir, 'ca.key')).mode & 0o777, 0o600);
  t.ok(fs.existsSync(path.join(m.workDir, 'entry-tls', 'entry.crt')), 'the leaf lives in the master\'s work dir');
  const bad = spawnMaster(t, ['--admin-port', '0', '--admin-cert', '/nonexistent/c.pem', '--admin-key', '/nonexistent/k.pem']);
  await t.rejects(bad, /entry point could not start: .*\/nonexistent\/c\.pem/, 'the master stops, naming the file');
});
