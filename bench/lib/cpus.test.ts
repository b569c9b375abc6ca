import t from 'tap';
import { allowedCpus, parseCpuList } from './cpus.js';

t.test('CPU lists as the kernel writes them', async (t) => {
  t.same(parseCpuList('0-1'), [0, 1]);
  t.same(parseCpuList('0-1,4,6-7\n'), [0, 1, 4, 6, 7]);
  t.same(parseCpuList('3'), [3]);
  t.throws(() => parseCpuList('0-x'), /not a CPU list/);
  t.ok(allowedCpus().length >= 1, 'this process may run somewhere');
});
