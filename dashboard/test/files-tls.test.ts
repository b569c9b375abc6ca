/**
 * The master's `/agent/<id>/files/read` (what the entry point's `sextant task log` and the page
 * use) when the cluster runs mutual TLS: the master calls the agent over https with its own
 * certificate, and reads only from the agent the state names (a server holding another agent's
 * certificate is refused with 502 naming both). Real https servers and openssl-issued certificates.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, identityUri, issueCert, requestJson, Router, serve, type LeafFiles, type TlsMaterial } from '../../common/index.js';
import { mountFiles } from '../../agent/index.js';
import { requireTools } from '../../test/lib/index.js';
import { mountFilesRoute } from '../files-route.js';

const load = (f: LeafFiles): TlsMaterial => ({ ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) });

t.test('the master reads an agent sandbox file over mutual TLS, from that agent only', async (t) => {
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sx-files-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = await ensureCa(join(dir, 'ca'));
  const certs = join(dir, 'certs');
  const master = await issueCert(ca, certs, 'master', { cn: 'master', usage: 'both', ips: ['127.0.0.1'], uris: [identityUri('master', '127.0.0.1')] });
  const s0 = await issueCert(ca, certs, 's0', { cn: 'agent-S0', usage: 'both', ips: ['127.0.0.1'], uris: [identityUri('agent', 'S0')] });
  const s1 = await issueCert(ca, certs, 's1', { cn: 'agent-S1', usage: 'both', ips: ['127.0.0.1'], uris: [identityUri('agent', 'S1')] });
  const sandboxes = join(dir, 'sandboxes');
  mkdirSync(join(sandboxes, 'web.1'), { recursive: true });
  writeFileSync(join(sandboxes, 'web.1', 'stdout'), 'hello over TLS\n');

  // Two agent servers under mutual TLS that accept the master (as agent/agent.ts does); one holds S1's certificate.
  const agentServer = async (leaf: LeafFiles) => {
    const r = new Router();
    mountFiles(r, () => sandboxes);
    const srv = await serve(r, { host: '127.0.0.1', port: 0, tls: { material: load(leaf), kinds: ['master', 'entry', 'cli'] } });
    t.teardown(() => srv.close());
    return srv.address().port;
  };
  const [p0, p1] = [await agentServer(s0), await agentServer(s1)];
  const state = { slaves: [{ id: 'S0', pid: `slave(1)@127.0.0.1:${p0}` }, { id: 'S2', pid: `slave(1)@127.0.0.1:${p1}` }] };

  const withTls = new Router();
  mountFilesRoute(withTls, () => state, load(master));
  const m = await serve(withTls, { host: '127.0.0.1', port: 0 });
  t.teardown(() => m.close());
  const read = (agent: string) => requestJson(`http://127.0.0.1:${m.address().port}/agent/${agent}/files/read?path=${encodeURIComponent('/web.1/stdout')}`);
  t.same(await read('S0'), { status: 200, body: { data: 'hello over TLS\n', offset: 0 } }, 'agent S0 over https with the master certificate');
  const wrong = await read('S2');
  t.equal(wrong.status, 502, 'a server with another agent\'s certificate: 502');
  t.match((wrong.body as { message: string }).message, /is not agent S2 \(its certificate names spiffe:\/\/sextant\/agent\/S1\)/, 'the message names the agent wanted and the one met');

  // Without the master's material (an --insecure-dev master) the route speaks plain HTTP: a TLS agent does not answer it.
  const plain = new Router();
  mountFilesRoute(plain, () => state);
  const pm = await serve(plain, { host: '127.0.0.1', port: 0 });
  t.teardown(() => pm.close());
  t.equal((await requestJson(`http://127.0.0.1:${pm.address().port}/agent/S0/files/read?path=%2Fweb.1%2Fstdout`)).status, 502, 'plain HTTP to a TLS agent: 502');
});
