/**
 * `sextant control status` against a master API under mutual TLS (a real https server that requires
 * a client certificate of the cluster CA, certificates from common/pki.ts): `--cert/--key` work,
 * without them the CLI says the master is unreachable (exit 1), half of the pair is a usage error.
 */
import t from 'tap';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ensureCa, issueCert } from '../../common/pki.js';
import { requireTools } from '../../test/lib/index.js';
import { main as cli } from '../cli.js';

t.test('control status over mutual TLS', async (t) => {
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sx-control-cli-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await ensureCa(join(dir, 'ca'));
  const master = await issueCert(ca, dir, 'master', { cn: 'master', usage: 'server', ips: ['127.0.0.1'], uris: ['spiffe://sextant/master/127.0.0.1'] });
  const op = await issueCert(ca, dir, 'cli', { cn: 'operator', usage: 'client', uris: ['spiffe://sextant/cli'] });
  const status = { history: 'h1', version: 3, agents: [{ agent_id: 'S1', connected: true, peer: 'x', parts: [], history: 'h1', last_sent: 3, applied: 3, failed: null, error: null, lag: 0, connected_at: 0, last_ack_at: 0 }] };
  const server = https.createServer({ ca: readFileSync(ca.cert), cert: readFileSync(master.cert), key: readFileSync(master.key), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/v1/control/agents' ? JSON.stringify(status) : '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await cli(['status', '--master', url, '--ca', ca.cert, ...args], { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join(''), err: err.join('') };
  };
  const ok = await run(['--cert', op.cert, '--key', op.key]);
  t.equal(ok.code, 0, 'with the client certificate: exit 0');
  t.match(ok.out, /1\/1 agents converged[\s\S]*S1\s+yes/);
  const anon = await run([]);
  t.equal(anon.code, 1, 'without a client certificate: the master refuses the handshake (exit 1)');
  t.match(anon.err, /sextant control: cannot reach https:\/\/127\.0\.0\.1/);
  const half = await run(['--cert', op.cert]);
  t.equal(half.code, 2, 'half of the pair: usage error');
  t.match(half.err, /--cert needs --key/);
});
