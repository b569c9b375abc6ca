/**
 * Without the native batching module (not built, or SEXTANT_UDP_BATCH=0) the dispatcher serves UDP
 * on Node's dgram sockets, worker processes included (they get the sockets over IPC). The rest of
 * the suite runs on the native sockets wherever the module is built.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { loopbackBlock, requireTools } from '../../../test/lib/index.js';
import { nativeUdp } from '../../../common/udp-batch.js';
import { addresses, query, startDispatcher, startDnsmasq, udpAsk } from './helpers.js';

// Read once, at the first nativeUdp() call: set before anything here asks. Worker processes inherit it.
process.env.SEXTANT_UDP_BATCH = '0';
const { dig } = requireTools('dig');

t.test('dgram sockets: forwarding and local zones, in this process and in a worker', async (t) => {
  t.equal(nativeUdp(), undefined, 'the native module is off');
  const ip = loopbackBlock();
  const up = await startDnsmasq(t, ip(2), { addresses: { 'up.test': '10.9.9.8' } });
  const { d, udp } = await startDispatcher(t, ip(1), { upstream_resolvers: [`${ip(2)}:${up}`], workers: 2 });
  t.equal(d.workerPool()?.live(), 1);
  t.same(addresses(await udpAsk(ip(1), udp, query('up.test', 1))), ['10.9.9.8'], 'forwarded');
  // A synchronous dig blocks this process: only the worker can answer it.
  const viaWorker = execFileSync(dig!, ['+short', '+tries=1', '+time=3', '-p', String(udp), `@${ip(1)}`, 'ready.spartan'], { encoding: 'utf8' }).trim();
  t.equal(viaWorker, ip(1), 'the worker answers on the shared dgram socket');
});
