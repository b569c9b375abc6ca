import { createRegistry } from '../../../common/metrics.js';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { parseConfig } from '../config.js';
import { MesosDns } from '../mesosdns.js';
import { fakeState } from './fixture.js';

interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** A running Mesos-DNS on a random loopback address, fed the fixture state. */
export async function startMesosDns(t: Teardownable, overrides: Record<string, unknown> = {}, ip = loopbackBlock()(1)) {
  const port = await freePort(ip);
  const httpPort = await freePort(ip);
  const { config } = parseConfig({
    Masters: ['144.76.157.37:5050'], Listener: ip, HTTPListener: ip, Port: port, HttpPort: httpPort, ExternalOn: false,
    IPSources: ['netinfo', 'docker', 'mesos', 'host'], EnforceRFC952: true, ...overrides,
  });
  const dns = new MesosDns({ config, registry: createRegistry(), lookup: async () => ['127.0.0.1'] });
  await dns.start();
  t.teardown(() => dns.stop());
  const state = fakeState();
  if (!(await dns.setState(state))) throw new Error('fixture state rejected');
  return { dns, ip, port, httpPort, config };
}
