/** SEXTANT_CONTROL_TLS_CA/_CERT/_KEY: all three or none (cli/plugins.ts). */
import t from 'tap';
import { controlTlsFromEnv } from '../plugins.js';

t.test('controlTlsFromEnv', async (t) => {
  const all = { SEXTANT_CONTROL_TLS_CA: '/p/ca.crt', SEXTANT_CONTROL_TLS_CERT: '/p/node.crt', SEXTANT_CONTROL_TLS_KEY: '/p/node.key' };
  t.equal(controlTlsFromEnv({}), undefined, 'none: the handle decides (plaintext without the handle tls)');
  t.same(controlTlsFromEnv(all), { ca: '/p/ca.crt', cert: '/p/node.crt', key: '/p/node.key' }, 'all three');
  t.throws(() => controlTlsFromEnv({ ...all, SEXTANT_CONTROL_TLS_KEY: '' }), /go together: SEXTANT_CONTROL_TLS_KEY missing/, 'an empty one is missing');
  t.throws(() => controlTlsFromEnv({ SEXTANT_CONTROL_TLS_CA: '/p/ca.crt' }), /SEXTANT_CONTROL_TLS_CERT, SEXTANT_CONTROL_TLS_KEY missing/, 'the CA alone');
});
