/**
 * requestJson against real servers on loopback: it does not load Node's undici (the `fetch` it
 * replaced loaded it, with its WebAssembly HTTP parser, into every plain-HTTP agent: issue #26), and
 * it keeps what `fetch` did: JSON in and out, redirects followed (307 keeps the POST and its body,
 * 303 goes on as a GET, the authorization header not sent to another origin), the deadline, and a
 * refused connection's error code in `cause`.
 */
import t from 'tap';
import http from 'node:http';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requestJson } from '../request-json.js';

interface Seen {
  method: string;
  url: string;
  auth?: string;
  body: string;
}

type Handler = (req: http.IncomingMessage, body: string) => { status: number; body?: string; headers?: Record<string, string> } | undefined;

async function server(t: { teardown(fn: () => unknown): void }, handler: Handler, host = '127.0.0.1'): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method!, url: req.url!, body, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      const r = handler(req, body);
      if (!r) return; // never answers
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers }).end(r.body ?? '');
    });
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  t.teardown(() => new Promise<void>((r) => {
    srv.closeAllConnections();
    srv.close(() => r());
  }));
  return { url: `http://${host}:${(srv.address() as AddressInfo).port}`, seen };
}

t.test('JSON in and out; the body is the parsed JSON, text when not JSON', async (t) => {
  const s = await server(t, (req, body) => (req.url === '/text' ? { status: 200, body: 'plain' } : { status: 201, body: JSON.stringify({ got: JSON.parse(body), ct: req.headers['content-type'] }) }));
  t.same(await requestJson(`${s.url}/x`, { body: { a: 1 }, headers: { authorization: 'Sextant-Agent a:b' } }), { status: 201, body: { got: { a: 1 }, ct: 'application/json' } });
  t.same(s.seen[0], { method: 'POST', url: '/x', body: '{"a":1}', auth: 'Sextant-Agent a:b' });
  t.same(await requestJson(`${s.url}/text`), { status: 200, body: 'plain' });
  t.equal(s.seen[1]!.method, 'GET');
});

t.test('redirects are followed as fetch followed them', async (t) => {
  const other = await server(t, () => ({ status: 200, body: '{"at":"leader"}' }), '127.0.0.2');
  const s = await server(t, (req) => {
    if (req.url === '/307') return { status: 307, body: '{}', headers: { location: '/here' } };
    if (req.url === '/303') return { status: 303, body: '{}', headers: { location: '/here' } };
    if (req.url === '/away') return { status: 307, body: '{}', headers: { location: `//${other.url.slice(7)}/there` } };
    if (req.url === '/loop') return { status: 302, body: '{}', headers: { location: '/loop' } };
    return { status: 200, body: '{"at":"here"}' };
  });
  t.same(await requestJson(`${s.url}/307`, { body: { k: 1 }, headers: { authorization: 'x' } }), { status: 200, body: { at: 'here' } });
  t.same(s.seen.slice(0, 2), [
    { method: 'POST', url: '/307', body: '{"k":1}', auth: 'x' },
    { method: 'POST', url: '/here', body: '{"k":1}', auth: 'x' },
  ], '307: the same POST, body and authorization (same origin)');
  await requestJson(`${s.url}/303`, { body: { k: 1 } });
  t.same(s.seen.slice(2, 4).map((x) => [x.method, x.url, x.body]), [['POST', '/303', '{"k":1}'], ['GET', '/here', '']], '303: a GET without the body');
  t.same(await requestJson(`${s.url}/away`, { body: { k: 2 }, headers: { authorization: 'secret' } }), { status: 200, body: { at: 'leader' } });
  t.same(other.seen, [{ method: 'POST', url: '/there', body: '{"k":2}' }], 'another origin: the POST without the authorization header');
  await t.rejects(requestJson(`${s.url}/loop`), /more than 20 redirects/);
});

t.test('the deadline, the caller\'s signal, a refused connection', async (t) => {
  const s = await server(t, () => undefined);
  await t.rejects(requestJson(`${s.url}/slow`, { timeoutMs: 200 }), { name: 'TimeoutError', message: /no answer within 200 ms/ });
  const ac = new AbortController();
  const p = requestJson(`${s.url}/slow`, { signal: ac.signal });
  ac.abort(new Error('stopping'));
  await t.rejects(p, /stopping/);
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const freePort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const e = await requestJson(`http://127.0.0.1:${freePort}/`).then(() => undefined, (x: unknown) => x as Error & { cause?: { code?: string } });
  t.equal(e?.cause?.code, 'ECONNREFUSED', 'the socket error is the cause');
});

t.test('a plain-HTTP call does not load Node\'s undici (fetch\'s)', async (t) => {
  const s = await server(t, () => ({ status: 200, body: '{"ok":true}' }));
  // The built module (this file runs from source under tap, or built under dist/).
  const mod = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../dist/common/request-json.js' : '../request-json.js', import.meta.url));
  const script = `const { requestJson } = await import(${JSON.stringify(mod)}); const r = await requestJson(${JSON.stringify(`${s.url}/`)}, { body: {} });
    console.log(JSON.stringify({ r, undici: process.moduleLoadList.some((m) => m.includes('undici')) }));`;
  const out = await new Promise<string>((resolve, reject) => {
    // Asynchronous: the server above answers from this process.
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
  t.same(JSON.parse(out), { r: { status: 200, body: { ok: true } }, undici: false });
});
