/** Mesos-DNS polling a master under mutual TLS with its own keys (MesosHTTPSOn, CACertFile, CertFile, KeyFile): real TLS, real certificates. */
import t from 'tap';
import path from 'node:path';
import { identityUri, issueCert, Router, serve, loadTls } from '../../../common/index.js';
import { makeTestPki, requireTools } from '../../../test/lib/index.js';
import { configFetchState } from '../poller.js';

requireTools('openssl');

t.test('https with the CA and a client certificate; without one the master refuses and the error says why', async (t) => {
  const pki = await makeTestPki(t);
  const mdir = await pki.masterDir('127.0.0.1');
  const dnsCert = await issueCert({ cert: pki.ca, key: pki.caKey }, path.join(pki.dir, 'dns'), 'mesos-dns', { cn: 'mesos-dns', usage: 'client', uris: [identityUri('mesos-dns')] });
  const router = new Router().get('/master/state', () => ({ json: { leader: 'master@127.0.0.1:1', slaves: [] } }));
  const s = await serve(router, { host: '127.0.0.1', port: 0, tls: { material: loadTls({ ca: `${mdir}/ca.crt`, cert: `${mdir}/node.crt`, key: `${mdir}/node.key` }), isPublic: () => false } });
  t.teardown(() => s.close());
  const hp = `127.0.0.1:${s.address().port}`;
  const fetch = configFetchState({ MesosHTTPSOn: true, CACertFile: pki.ca, CertFile: dnsCert.cert, KeyFile: dnsCert.key });
  t.same(await fetch(hp, 5000), { leader: 'master@127.0.0.1:1', slaves: [] }, 'the state over mutual TLS');
  const anonymous = configFetchState({ MesosHTTPSOn: true, CACertFile: pki.ca, CertFile: '', KeyFile: '' });
  await t.rejects(anonymous(hp, 5000), /HTTP 401 .*no_client_certificate/, 'without a client certificate: 401 with the reason');
  await t.rejects(configFetchState({ MesosHTTPSOn: false, CACertFile: '', CertFile: '', KeyFile: '' })(hp, 5000), 'plain HTTP to a TLS port fails');
  t.throws(() => configFetchState({ MesosHTTPSOn: true, CACertFile: '/nonexistent/ca.crt', CertFile: '', KeyFile: '' }), /CACertFile.*nonexistent/, 'a missing file is an error at start');
});
