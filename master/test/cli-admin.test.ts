// `sextant master --admin-*` flags: parsed into the front's options; bad combinations a ConfigError naming the flag.
import t from 'tap';
import { ConfigError } from '../../common/index.js';
import { parseMasterArgs } from '../cli.js';
import { INSECURE_DEV } from '../../test/lib/index.js';

const base = ['--ip', '127.0.0.1', '--work-dir', '/tmp/x', ...INSECURE_DEV];

t.test('admin options', async (t) => {
  t.same(parseMasterArgs(base, {}).admin, { caDir: '/tmp/x/pki' }, 'no --admin-port: no entry point; the CA dir defaults under the work dir');
  t.same(parseMasterArgs([...base, '--admin-port', '443'], {}).admin, { port: 443, caDir: '/tmp/x/pki' });
  t.same(parseMasterArgs([...base, '--admin-port', '8443', '--admin-cert', '/c', '--admin-key', '/k', '--ca-dir', '/ca'], {}).admin, { port: 8443, cert: '/c', key: '/k', caDir: '/ca' });
});

for (const [args, field] of [
  [['--admin-port', 'https'], '--admin-port'],
  [['--admin-port', '70000'], '--admin-port'],
  [['--admin-port', '443', '--admin-cert', '/c'], '--admin-key'],
  [['--admin-port', '443', '--admin-key', '/k'], '--admin-cert'],
  [['--admin-cert', '/c', '--admin-key', '/k'], '--admin-port'],
] as [string[], string][]) {
  t.test(`bad: ${args.join(' ')}`, async (t) => {
    t.throws(() => parseMasterArgs([...base, ...args], {}), ConfigError);
    try {
      parseMasterArgs([...base, ...args], {});
    } catch (e) {
      t.equal((e as ConfigError).field, field, `names ${field}: ${(e as Error).message}`);
    }
  });
}

t.test('master TLS flags: refused without TLS material unless --insecure-dev; a dir gives the CA key for bootstrap', async (t) => {
  const { makeTestPki } = await import('../../test/lib/index.js');
  const pki = await makeTestPki(t);
  const dir = await pki.masterDir('127.0.0.1');
  const plain = ['--ip', '127.0.0.1', '--work-dir', '/tmp/x'];
  t.throws(() => parseMasterArgs(plain, {}), { name: 'ConfigError', field: '--tls-dir', message: /--tls-dir DIR.*--insecure-dev/ }, 'neither: refused naming the flags');
  t.equal(parseMasterArgs([...plain, '--insecure-dev'], {}).tls, undefined);
  for (const any of ['0.0.0.0', '::', '0:0::0']) t.throws(() => parseMasterArgs(['--ip', any, '--work-dir', '/tmp/x', '--insecure-dev'], {}), { name: 'ConfigError', field: '--ip', message: /every interface/ }, `--ip ${any}`);
  const o = parseMasterArgs([...plain, '--tls-dir', dir, '--bootstrap-token-file', pki.tokenFile], {});
  t.match(o.tls, { signer: { cert: `${dir}/ca.crt`, key: `${dir}/ca.key` }, token: pki.token });
  t.ok(Buffer.isBuffer(o.tls?.material.cert), 'the certificate is loaded');
  t.throws(() => parseMasterArgs([...plain, '--tls-dir', dir, '--insecure-dev'], {}), { name: 'ConfigError', field: '--insecure-dev' });
  t.throws(() => parseMasterArgs([...plain, '--tls-dir', '/nonexistent'], {}), { field: '--tls-dir', message: /cannot read \/nonexistent\/ca\.crt/ });
  t.throws(() => parseMasterArgs([...plain, '--tls-ca', `${dir}/ca.crt`, '--tls-cert', `${dir}/node.crt`, '--tls-key', `${dir}/node.key`, '--bootstrap-token-file', pki.tokenFile], {}), { field: '--bootstrap-token-file', message: /CA key/ }, 'a token without the CA key to sign with');
  t.match(parseMasterArgs([...plain, '--tls-ca', `${dir}/ca.crt`, '--tls-cert', `${dir}/node.crt`, '--tls-key', `${dir}/node.key`, '--tls-ca-key', `${dir}/ca.key`], {}).tls, { signer: { key: `${dir}/ca.key` } });
});
