// `sextant master --admin-*` flags: parsed into the front's options; bad combinations a ConfigError naming the flag.
import t from 'tap';
import { ConfigError } from '../../common/index.js';
import { parseMasterArgs } from '../cli.js';

const base = ['--ip', '127.0.0.1', '--work-dir', '/tmp/x'];

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
