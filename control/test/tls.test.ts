/** Mutual TLS with a cluster CA (certificates made by openssl in a temp dir); plaintext is refused by a TLS server. */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools } from '../../test/lib/index.js';
import { clientReaches, RecordingConsumer, SettableSource, startClient, startServer, vip } from './helpers.js';

function makeCerts(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
  };
  const leaf = (name: string, signer: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  ca('ca');
  ca('rogue');
  leaf('master', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('agent', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('intruder', 'rogue', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return {
    server: { ca: f('ca.crt'), cert: f('master.crt'), key: f('master.key') },
    agent: { ca: f('ca.crt'), cert: f('agent.crt'), key: f('agent.key') },
    intruder: { ca: f('ca.crt'), cert: f('intruder.crt'), key: f('intruder.key') },
  };
}

t.test('mutual TLS', async (t) => {
  requireTools('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'sx-control-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir);
  const server = await startServer(t, { tls: certs.server, sources: [new SettableSource('vips', [vip('web', '11.0.0.1', [['10.0.0.1', 80]])])] });
  const addr = `127.0.0.1:${server.port}`;
  const good = await startClient(t, { agentId: 'a1', masters: [addr], tls: certs.agent, consumers: [new RecordingConsumer('l4lb', ['vips'])] });
  await clientReaches(good, (s) => s.applied === 1, 'TLS client converges');

  const bad = [
    { name: 'plaintext client', opts: {} },
    { name: 'client cert from another CA', opts: { tls: certs.intruder } },
  ];
  for (const b of bad) {
    const c = await startClient(t, { agentId: `x-${b.name.length}`, masters: [addr], consumers: [new RecordingConsumer('l4lb', ['vips'])], ...b.opts });
    await clientReaches(c, (s) => s.broken >= 3, `${b.name}: three failed attempts`);
    t.same([c.state().connected, c.state().updates], [false, 0], `${b.name}: never receives an update`);
  }
  t.same(server.status().agents.map((a) => a.agent_id), ['a1'], 'only the mTLS agent is known');
});
