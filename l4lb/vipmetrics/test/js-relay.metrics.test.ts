/** The userspace driver's VIP metrics on the net.Socket relay (see userspace-metrics.ts). */
import t from 'tap';
import { runUserspaceMetrics } from './userspace-metrics.js';

process.env.SEXTANT_TCP_RELAY = '0'; // read once, at the first proxy
t.test('userspace VIP metrics (net.Socket relay)', (t) => runUserspaceMetrics(t));
