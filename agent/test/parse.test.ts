import t from 'tap';
import { parseResources, parseAttributes, parsePortRanges, formatPortRanges, portsToRanges } from '../resources.js';
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
  const a = parseAgentArgs(['--master', '127.0.0.1:5050', '--ip', '127.0.0.2', '--port', '0', '--attributes', 'rack:a']);
  t.match(a, { masters: ['127.0.0.1:5050'], ip: '127.0.0.2', port: 0, attributes: { rack: 'a' }, killTasksOnExit: false });
  t.throws(() => parseAgentArgs(['--ip', '127.0.0.2']), { name: 'ConfigError', field: '--master' });
  t.throws(() => parseAgentArgs(['--master', 'nohost']), { name: 'ConfigError', field: '--master' });
  t.throws(() => parseAgentArgs(['--master', 'h:1', '--port', '70000']), { name: 'ConfigError', field: '--port' });
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
