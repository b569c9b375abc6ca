// GET /v1/config byte for byte as mesos-dns v0.7 writes it (issue #27): Go's encoding/json of its
// records.Config (fields in declaration order, json tags HttpPort/DnsOn/HttpOn, MesosCredentials
// as {Principal, Secret}, map keys sorted, HTML characters escaped), indented by go-restful's
// MarshalIndent(v, " ", " "), sent with a Content-Length. The expected text is written out by hand.
import t from 'tap';
import http from 'node:http';
import { resolve } from 'node:path';
import { createRegistry } from '../../../common/metrics.js';
import { freePort, loopbackBlock } from '../../../test/lib/index.js';
import { parseConfig } from '../config.js';
import { configJson } from '../config-json.js';
import { MesosDns } from '../mesosdns.js';

function get(host: string, port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((ok, fail) => {
    const req = http.get({ host, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.setTimeout(3000, () => req.destroy(new Error('no reply in 3 s')));
  });
}

t.test('/v1/config is the reference JSON, with Content-Length', async (t) => {
  const ip = loopbackBlock()(1);
  const [port, httpPort] = [await freePort(ip), await freePort(ip)];
  const { config } = parseConfig({
    Masters: ['127.0.0.1:5050'], Listener: ip, HTTPListener: ip, Port: port, HttpPort: httpPort, Resolvers: ['127.0.0.8'],
    ZoneResolvers: { 'z.test': ['127.0.0.9:53'], 'a.test': ['127.0.0.10'] }, CACertFile: '/etc/ssl/a&b<c>.pem',
    MesosCredentials: { principal: 'p', secret: 's3cret' }, EDNS0On: true, TCPIdleTimeout: 3,
  });
  const dns = new MesosDns({ config, registry: createRegistry() });
  await dns.start();
  t.teardown(() => dns.stop());
  const r = await get(ip, httpPort, '/v1/config');
  t.equal(r.status, 200);
  t.equal(r.headers['content-type'], 'application/json');
  t.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)), 'Content-Length, not chunked');
  t.notOk(r.headers['transfer-encoding'], 'not chunked');
  const want = `{
  "RefreshSeconds": 60,
  "Port": ${port},
  "Timeout": 5,
  "StateTimeoutSeconds": 300,
  "ZkDetectionTimeout": 30,
  "HttpPort": ${httpPort},
  "TTL": 60,
  "SRVRecordDefaultWeight": 1,
  "SOASerial": ${config.SOASerial},
  "SOARefresh": 60,
  "SOARetry": 600,
  "SOAExpire": 86400,
  "SOAMinttl": 60,
  "SOAMname": "ns1.mesos.",
  "SOARname": "root.ns1.mesos.",
  "Masters": [
   "127.0.0.1:5050"
  ],
  "ZoneResolvers": {
   "a.test": [
    "127.0.0.10"
   ],
   "z.test": [
    "127.0.0.9:53"
   ]
  },
  "Resolvers": [
   "127.0.0.8"
  ],
  "IPSources": [
   "netinfo",
   "mesos",
   "host"
  ],
  "Zk": "",
  "Domain": "mesos",
  "File": "",
  "Listener": "${ip}",
  "HTTPListener": "${ip}",
  "RecurseOn": true,
  "DnsOn": true,
  "HttpOn": true,
  "ExternalOn": true,
  "EnforceRFC952": false,
  "SetTruncateBit": true,
  "EnumerationOn": true,
  "MesosHTTPSOn": false,
  "CACertFile": "/etc/ssl/a\\u0026b\\u003cc\\u003e.pem",
  "CertFile": "",
  "KeyFile": "",
  "MesosCredentials": {
   "Principal": "p",
   "Secret": "******"
  },
  "IAMConfigFile": "",
  "MesosAuthentication": ""
 }`;
  t.equal(r.body, want);
  t.notMatch(r.body, /s3cret|EDNS0On|TCPIdleTimeout|LogLimit/, 'no secret in clear, no Sextant keys');
});

t.test('config JSON details: nil Masters, empty lists, File made absolute', async (t) => {
  const { config } = parseConfig({ Zk: 'zk://127.0.0.1:2181/mesos', ExternalOn: false, Resolvers: [] }, 'conf/mesos-dns.json');
  const body = configJson(config);
  t.match(body, /\n {2}"Masters": null,\n/, 'no Masters: null, as Go writes a nil slice');
  t.match(body, /\n {2}"ZoneResolvers": \{\},\n {2}"Resolvers": \[\],\n/, 'empty map and list stay on one line');
  t.match(body, `\n  "File": "${resolve('conf/mesos-dns.json')}",\n`, 'File as an absolute path (filepath.Abs)');
  t.match(body, /"Secret": ""\n/, 'no secret: empty');
  t.same(JSON.parse(body).MesosCredentials, { Principal: '', Secret: '' });
});
