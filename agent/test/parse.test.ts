import t from 'tap';
import { parseResources, parseAttributes, parsePortRanges, formatPortRanges, portsToRanges } from '../resources.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentArgs } from '../cli.js';
import { parseLaunch, parseKill } from '../launch.js';
import { taskInfo } from './helpers.js';

t.test('--resources / --attributes / port ranges', async (t) => {
  const ok: [string, unknown][] = [
    ['cpus:2;mem:512', { cpus: 2, mem: 512, disk: 10000, ports: [[31000, 32000]] }],
    ['ports:[1000-1001, 2000-2000]', { cpus: 4, mem: 4096, disk: 10000, ports: [[1000, 1001], [2000, 2000]] }],
    ['', { cpus: 4, mem: 4096, disk: 10000, ports: [[31000, 32000]] }],
  ];
  for (const [text, want] of ok) t.same(parseResources(text), want, `'${text}'`);
  const bad: [string, string][] = [
    ['cpus:x', 'resources.cpus'],
    ['gpus:1', 'resources.gpus'],
    ['ports:31000-32000', 'resources.ports'],
    ['ports:[2-1]', 'resources.ports'],
    ['mem', 'resources'],
  ];
  for (const [text, field] of bad) t.throws(() => parseResources(text), { name: 'ConfigError', field }, `'${text}' names ${field}`);
  t.same(parseAttributes('rack:a; zone:1'), { rack: 'a', zone: '1' });
  t.throws(() => parseAttributes('rack'), { name: 'ConfigError', field: 'attributes' });
  t.equal(formatPortRanges(parsePortRanges('[31000-32000,33000-33001]')), '[31000-32000, 33000-33001]');
  t.same(portsToRanges([31005, 31000, 31001]), [[31000, 31001], [31005, 31005]]);
});

t.test('agent flags', async (t) => {
  const a = parseAgentArgs(['--master', '127.0.0.1:5050', '--ip', '127.0.0.2', '--port', '0', '--attributes', 'rack:a', '--insecure-dev']);
  t.match(a, { masters: ['127.0.0.1:5050'], ip: '127.0.0.2', port: 0, attributes: { rack: 'a' }, killTasksOnExit: false });
  t.throws(() => parseAgentArgs(['--ip', '127.0.0.2']), { name: 'ConfigError', field: '--master' });
  t.throws(() => parseAgentArgs(['--master', 'nohost']), { name: 'ConfigError', field: '--master' });
  t.throws(() => parseAgentArgs(['--master', 'h:1', '--port', '70000']), { name: 'ConfigError', field: '--port' });
});

t.test('agent TLS flags: secure by default, --insecure-dev the way out, the CA from a dir or a file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sx-agent-flags-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'token'), 'a'.repeat(32) + '\n');
  const m = ['--master', '127.0.0.1:5050'];
  t.throws(() => parseAgentArgs(m, {}), { name: 'ConfigError', field: '--tls-dir', message: /--tls-dir DIR.*--insecure-dev/ }, 'no TLS material and no --insecure-dev: refused, naming the flags');
  t.equal(parseAgentArgs([...m, '--insecure-dev'], {}).tls, undefined);
  t.throws(() => parseAgentArgs([...m, '--ip', '0.0.0.0', '--insecure-dev'], {}), { name: 'ConfigError', field: '--ip', message: /every interface/ });
  t.same(parseAgentArgs([...m, '--tls-dir', dir, '--bootstrap-token-file', join(dir, 'token')], {}).tls, { ca: Buffer.from(ca), bootstrapToken: 'a'.repeat(32) });
  t.same(parseAgentArgs([...m, '--tls-ca', join(dir, 'ca.crt')], { SEXTANT_BOOTSTRAP_TOKEN: 'b'.repeat(20) }).tls, { ca: Buffer.from(ca), bootstrapToken: 'b'.repeat(20) }, 'the token from the environment');
  t.throws(() => parseAgentArgs([...m, '--tls-dir', dir, '--insecure-dev'], {}), { name: 'ConfigError', field: '--insecure-dev' });
  t.throws(() => parseAgentArgs([...m, '--tls-ca', join(dir, 'ca.crt'), '--tls-cert', 'x', '--tls-key', 'y'], {}), { field: '--tls-cert', message: /TLS bootstrap/ });
  t.throws(() => parseAgentArgs([...m, '--tls-dir', join(dir, 'nope')], {}), { field: '--tls-dir', message: /cannot read/ });
  t.throws(() => parseAgentArgs([...m, '--tls-dir', dir], { SEXTANT_BOOTSTRAP_TOKEN: 'short' }), { field: 'SEXTANT_BOOTSTRAP_TOKEN', message: /at least 16/ });
  t.throws(() => parseAgentArgs([...m, '--tls-dir', dir, '--bootstrap-token-file', join(dir, 'missing')], {}), { field: '--bootstrap-token-file', message: /cannot read/ });
});

t.test('launch and kill bodies', async (t) => {
  t.equal(parseLaunch({ task: taskInfo('a.1', 'sleep 1') }).task_id, 'a.1');
  const bad: [unknown, string][] = [
    [{}, '/task'],
    [{ task: { ...taskInfo('../x', 'true') } }, '/task/task_id'],
    [{ task: { ...taskInfo('a', 'true'), command: { value: '' } } }, '/task/command/value'],
    [{ task: { ...taskInfo('a', 'true'), env: { A: 1 } } }, '/task/env'],
    [{ task: { ...taskInfo('a', 'true'), ports: [0] } }, '/task/ports'],
    [{ task: { ...taskInfo('a', 'true'), health_check: { protocol: 'UDP' } } }, '/task/health_check/protocol'],
  ];
  for (const [body, path] of bad) t.throws(() => parseLaunch(body), { name: 'ValidationError', details: [{ path }] }, path);
  t.same(parseKill({ task_id: 'x', grace_period_ms: 5 }), { task_id: 'x', grace_period_ms: 5 });
  t.throws(() => parseKill({}), { name: 'ValidationError' });
});
