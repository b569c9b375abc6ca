/** The masters' health aggregation polling an agent API under mutual TLS (#30): real TLS, real certificates. */
import t from 'tap';
import path from 'node:path';
import { identityUri, issueCert, loadTls, Router, serve } from '../../common/index.js';
import { makeTestPki, requireTools } from '../../test/lib/index.js';
import { HealthAggregator, targetsFromState, tlsJsonGetter } from '../aggregate.js';

requireTools('openssl');

t.test('https to the agents with the master certificate; an agent that is not reached says why', async (t) => {
  const pki = await makeTestPki(t);
  const mdir = await pki.masterDir('127.0.0.1');
  const agent = await issueCert({ cert: pki.ca, key: pki.caKey }, path.join(pki.dir, 'agent'), 'agent', { cn: 'agent', usage: 'both', ips: ['127.0.0.1'], uris: [identityUri('agent', 'M-S0')] });
  const health = { units: [{ id: 'sextant-l4lb', name: 'l4lb', health: 0, output: 'ok', help: 'h', description: 'd' }], hostname: 'a', ip: '127.0.0.1', node_role: 'agent', mesos_id: 'M-S0' };
  const router = new Router().get('/system/health/v1', () => ({ json: health }));
  const s = await serve(router, { host: '127.0.0.1', port: 0, tls: { material: loadTls({ ca: pki.ca, cert: agent.cert, key: agent.key }), kinds: ['master'] } });
  t.teardown(() => s.close());
  const state = { slaves: [{ id: 'M-S0', hostname: 'a', pid: `slave(1)@127.0.0.1:${s.address().port}` }] };
  const targets = targetsFromState(state, { ip: '127.0.0.9', hostname: 'm', masterId: 'M' }, true);
  t.match(targets[1], { url: `https://127.0.0.1:${s.address().port}` }, 'agents are https under mutual TLS');
  const master = loadTls({ ca: pki.ca, cert: `${mdir}/node.crt`, key: `${mdir}/node.key` });
  const agg = new HealthAggregator({ targets: () => targets, local: async () => [], get: tlsJsonGetter(master) });
  t.match(await agg.nodes(), [{ role: 'master' }, { role: 'agent', mesosId: 'M-S0', units: [{ id: 'sextant-l4lb' }] }], "the agent's units, asked with the master's certificate");
  const cli = new HealthAggregator({ targets: () => targets, local: async () => [], get: tlsJsonGetter(pki.client(pki.cli)) });
  t.match((await cli.nodes())[1], { health: 0, units: [], error: /403/ }, 'a certificate the agent does not accept: the node is unhealthy and the error says why');
});
