/** `sextant vip ls` against a stand-in agent API: the address forms, and answers that are not a VIP list. */
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { main } from '../cli.js';

t.test('sextant vip ls: the agent as IP:PORT or URL; an answer that is not a VIP list is an error that says what came back', async (t) => {
  let reply: { status: number; body: string } = { status: 200, body: '[]' };
  const srv = http.createServer((req, res) => {
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(req.url === '/v1/vips' ? reply.body : '{"message":"not found"}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => srv.close());
  const addr = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  const run = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
    return { code, out, err };
  };
  reply = { status: 200, body: JSON.stringify([{ vip: '11.0.0.1:80', protocol: 'tcp', dns_name: 'web.marathon.l4lb.thisdcos.directory', backend: [{ ip: '10.0.0.2', port: 31000, weight: 0 }] }]) };
  for (const agent of [addr, `http://${addr}`, `http://${addr}/v1/vips`]) {
    const r = await run('ls', '--agent', agent);
    t.equal(r.code, 0, `--agent ${agent}`);
    t.match(r.out, /11\.0\.0\.1:80\s+tcp\s+web\.marathon\.l4lb\.thisdcos\.directory\s+10\.0\.0\.2:31000\(drain\)/);
  }
  reply = { status: 502, body: '' };
  const empty = await run('ls', '--agent', addr);
  t.equal(empty.code, 1);
  t.match(empty.err, /answered 502 with an empty body/, 'an empty answer is named, not a crash');
  reply = { status: 200, body: '{"vips":"x"}' };
  const notList = await run('ls', '--agent', addr);
  t.equal(notList.code, 1);
  t.match(notList.err, /answered 200 with \{"vips":"x"\}/);
  const bad = await run('ls', '--agent', 'http://');
  t.equal(bad.code, 2);
  t.match(bad.err, /--agent "http:\/\/" is not an address/);
});
