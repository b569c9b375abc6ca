// `sextant master --zk ...` flags: parsed into HA options, bad values a ConfigError naming the flag.
import t from 'tap';
import { ConfigError } from '../../common/index.js';
import { parseMasterArgs } from '../cli.js';
import { INSECURE_DEV } from '../../test/lib/index.js';

const base = ['--ip', '127.0.0.1', '--work-dir', '/tmp/x', ...INSECURE_DEV];

t.test('no --zk: no HA options (file store as before)', async (t) => {
  t.equal(parseMasterArgs(base, {}).ha, undefined);
});

t.test('--zk with defaults and overrides', async (t) => {
  const { parseZkTarget } = await import('../zk/session.js');
  t.same(parseZkTarget('zk://u:p@h1,h2:2182,[::1]:2183/sextant/'), { connect: 'h1:2181,h2:2182,[::1]:2183', path: '/sextant', auth: 'u:p' });
  t.same(parseZkTarget('zk://h1:2181'), { connect: 'h1:2181', path: '/' });
  t.same(parseMasterArgs([...base, '--zk', 'zk://127.0.0.1:2181,127.0.0.2:2181/sextant'], {}).ha, { zk: 'zk://127.0.0.1:2181,127.0.0.2:2181/sextant', mesosPath: '/mesos', sessionTimeoutMs: 2000, maxValueBytes: 1_000_000 });
  t.match(parseMasterArgs([...base, '--zk', 'zk://h/s', '--zk-mesos-path', '/m/x', '--zk-session-timeout-ms', '2000'], { SEXTANT_ZK_MAX_VALUE_BYTES: '5000' }).ha, { mesosPath: '/m/x', sessionTimeoutMs: 2000, maxValueBytes: 5000 });
});

for (const [args, env, field] of [
  [['--zk', 'http://h:2181/s'], {}, '--zk'],
  [['--zk', 'zk://h:99999/s'], {}, '--zk'],
  [['--zk', 'zk://h:2181,/s'], {}, '--zk'],
  [['--zk', 'zk://h:2181/a//b'], {}, '--zk'],
  [['--zk', 'zk://h/s', '--zk-mesos-path', 'mesos'], {}, '--zk-mesos-path'],
  [['--zk', 'zk://h/s', '--zk-mesos-path', '/mesos/'], {}, '--zk-mesos-path'],
  [['--zk', 'zk://h/s', '--zk-session-timeout-ms', '100'], {}, '--zk-session-timeout-ms'],
  [['--zk', 'zk://h/s', '--zk-session-timeout-ms', 'soon'], {}, '--zk-session-timeout-ms'],
  [['--zk', 'zk://h/s'], { SEXTANT_ZK_MAX_VALUE_BYTES: '2000000' }, 'SEXTANT_ZK_MAX_VALUE_BYTES'],
] as [string[], Record<string, string>, string][]) {
  t.test(`bad: ${args.join(' ')} ${JSON.stringify(env)}`, async (t) => {
    const e = (() => {
      try {
        parseMasterArgs([...base, ...args], env);
      } catch (err) {
        return err;
      }
    })();
    t.ok(e instanceof ConfigError, 'ConfigError');
    t.equal((e as ConfigError).field, field, `names ${field}: ${(e as Error).message}`);
  });
}

t.test('--zk-auth-file: a 0600 file user:password is the credential; anything else is refused naming the flag', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync, chmodSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'zk-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode });
    chmodSync(p, mode);
    return p;
  };
  const ok = parseMasterArgs([...base, '--zk', 'zk://h/s', '--zk-auth-file', file('ok', 'sextant:pw-1\n')], {}).ha!;
  t.equal(ok.auth, 'sextant:pw-1');
  t.equal(ok.zk, 'zk://h/s', 'the URL stays without the secret');
  const bad = (args: string[], why: RegExp, field = '--zk-auth-file') => {
    const e = (() => {
      try {
        parseMasterArgs([...base, ...args], {});
      } catch (err) {
        return err;
      }
    })();
    t.ok(e instanceof ConfigError, `ConfigError for ${args.join(' ')}`);
    t.equal((e as ConfigError).field, field);
    t.match((e as Error).message, why);
  };
  bad(['--zk', 'zk://h/s', '--zk-auth-file', file('wide', 'sextant:pw', 0o644)], /mode 0644: group or others may read .*chmod 600/);
  bad(['--zk', 'zk://h/s', '--zk-auth-file', file('group', 'sextant:pw', 0o640)], /mode 0640/);
  bad(['--zk', 'zk://h/s', '--zk-auth-file', join(dir, 'absent')], /cannot read .*ENOENT/);
  bad(['--zk', 'zk://h/s', '--zk-auth-file', dir], /not a regular file/);
  bad(['--zk', 'zk://h/s', '--zk-auth-file', file('nouser', ':pw')], /user:password/);
  bad(['--zk', 'zk://h/s', '--zk-auth-file', file('nopw', 'sextant:')], /user:password/);
  bad(['--zk', 'zk://h/s', '--zk-auth-file', file('two', 'a:b\nc:d\n')], /more than one line/);
  bad(['--zk', 'zk://u:p@h/s', '--zk-auth-file', file('both', 'a:b')], /carries a credential too/);
  bad(['--zk-auth-file', file('nozk', 'a:b')], /needs --zk/);
  bad(['--zk', 'zk://justuser@h/s'], /user:password/, '--zk');
});

t.test('a bad --zk URL with a credential: the error masks the credential', async (t) => {
  for (const url of ['zk://sextant:hunter2@h:99999/s', 'zk://sextant:hunter2@h/a//b', 'zkx://sextant:hunter2@h/s']) {
    const e = (() => {
      try {
        parseMasterArgs([...base, '--zk', url], {});
      } catch (err) {
        return err as Error;
      }
    })();
    t.ok(e instanceof ConfigError, `refused: ${e?.message}`);
    t.notMatch(e?.message ?? '', /hunter2/, 'no password in the message');
    t.match(e?.message ?? '', /\*\*\*\*\*\*@/, 'masked');
  }
});
