/** The CLI's client with a client certificate (--cert/--key, SEXTANT_CERT/SEXTANT_KEY) against a real mutual-TLS port. */
import t from 'tap';
import { ApiError, ClusterClient, ClusterConfigError } from '../cli-client.js';
import { Router, serve } from '../http.js';
import { loadTls } from '../tls-files.js';
import { makeTestPki, requireTools } from '../../test/lib/index.js';

requireTools('openssl');

t.test('--cert/--key present the certificate; without it the port says why; half a pair is a usage error', async (t) => {
  const pki = await makeTestPki(t);
  const mdir = await pki.masterDir('127.0.0.1');
  const router = new Router().get('/master/state', () => ({ json: { ok: true } }));
  const s = await serve(router, { host: '127.0.0.1', port: 0, tls: { material: loadTls({ ca: `${mdir}/ca.crt`, cert: `${mdir}/node.crt`, key: `${mdir}/node.key` }), isPublic: () => false } });
  t.teardown(() => s.close());
  const master = `https://127.0.0.1:${s.address().port}`;
  const env = { XDG_CONFIG_HOME: pki.dir };
  t.same(await new ClusterClient({ master, ca: pki.ca, cert: pki.cli.cert, key: pki.cli.key }, env).request('mesos', '/master/state'), { ok: true }, 'flags');
  t.same(await new ClusterClient({ master }, { ...env, SEXTANT_CA: pki.ca, SEXTANT_CERT: pki.cli.cert, SEXTANT_KEY: pki.cli.key }).request('mesos', '/master/state'), { ok: true }, 'environment');
  const e = await new ClusterClient({ master, ca: pki.ca }, env).request('mesos', '/master/state').catch((x: unknown) => x);
  t.ok(e instanceof ApiError && e.status === 401 && /needs a client certificate of the cluster CA/.test(e.message), `without a certificate: ${(e as Error).message}`);
  t.throws(() => new ClusterClient({ master, cert: pki.cli.cert }, env), ClusterConfigError, '--cert without --key');
  t.throws(() => new ClusterClient({ master, cert: '/nonexistent.crt', key: pki.cli.key }, env), /--cert \/nonexistent\.crt: ENOENT/);
  t.equal(new ClusterClient({ master: 'https://127.0.0.1:5050' }, env).base('marathon'), 'https://127.0.0.1:8080', 'Marathon takes the master\'s scheme');
  t.equal(new ClusterClient({ master: '127.0.0.1:5050' }, env).base('marathon'), 'http://127.0.0.1:8080');
});
