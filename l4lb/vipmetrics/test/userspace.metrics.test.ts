/** The userspace driver's VIP metrics on the native relay (where built; see userspace-metrics.ts). */
import t from 'tap';
import { runUserspaceMetrics } from './userspace-metrics.js';

t.test('userspace VIP metrics (native relay where built)', (t) => runUserspaceMetrics(t));
