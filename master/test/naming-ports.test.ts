import t from 'tap';
import { appIdOfTask, taskId, taskName } from '../marathon/naming.js';
import { allocatePorts, formatRanges, portsToRanges, subtractPorts } from '../ports.js';

t.test('task names and ids follow Marathon', async (t) => {
  const rows: [string, string, string][] = [
    ['/web', 'web', 'web'],
    ['/group/app', 'app.group', 'group_app'],
    ['/a/b/c', 'c.b.a', 'a_b_c'],
  ];
  for (const [app, name, prefix] of rows) {
    t.equal(taskName(app), name, `name of ${app}`);
    const id = taskId(app, '1234');
    t.equal(id, `${prefix}.1234`, `id of ${app}`);
    t.equal(appIdOfTask(id), app, `app of ${id}`);
  }
  t.match(taskId('/group/app'), /^group_app\.[0-9a-f-]{36}$/);
});

t.test('port ranges', async (t) => {
  t.equal(formatRanges([[31000, 32000]]), '[31000-32000]');
  t.equal(formatRanges(portsToRanges([31001, 31000, 31005])), '[31000-31001, 31005-31005]');
  t.same(subtractPorts([[10, 20]], [10, 15, 20]), [[11, 14], [16, 19]]);
  t.same(subtractPorts([[10, 10]], [10]), []);
});

t.test('port allocation', async (t) => {
  const rows: [string, [number, number][], number[], number[] | undefined][] = [
    ['any port takes the first free', [[31000, 31005]], [0, 0], [31000, 31001]],
    ['fixed port honoured', [[31000, 31005]], [31003], [31003]],
    ['fixed before any', [[31000, 31001]], [0, 31000], [31001, 31000]],
    ['fixed port outside ranges', [[31000, 31005]], [80], undefined],
    ['not enough ports', [[31000, 31000]], [0, 0], undefined],
    ['same fixed port twice', [[31000, 31005]], [31001, 31001], undefined],
    ['no ports wanted', [], [], []],
  ];
  for (const [what, free, wanted, want] of rows) t.same(allocatePorts(free, wanted), want, what);
});
