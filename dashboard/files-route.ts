/**
 * `GET /agent/{agent_id}/files/read?path=...` on the master (Admin Router's `/agent/` layout): the
 * read-only sandbox file API of that agent (agent/files.ts), fetched for the page and for
 * `sextant task log` through the entry point, which cannot reach agents. Only this route is
 * forwarded; the answer is the agent's, status included. Under mutual TLS (#30) the master calls
 * the agent over https with its own certificate and accepts only the certificate of the agent the
 * master's state names (`spiffe://sextant/agent/<id>`), as master/agent-client.ts does.
 */
import { identityFromSan, identityUri, NotFoundError, requestJson, type ClientTls, type Router, type TlsMaterial } from '../common/index.js';
import { agentAddress } from './dns-route.js';

/** How the master presents itself to agent `id` at `where`, and which certificate it accepts back. */
function agentTls(tls: TlsMaterial, id: string, where: string): ClientTls {
  const want = identityUri('agent', id);
  return {
    ...tls,
    checkServerIdentity: (_host, cert) => {
      const got = identityFromSan(cert.subjectaltname)?.uri;
      return got === want ? undefined : new Error(`the server at ${where} is not agent ${id} (its certificate names ${got ?? 'no cluster identity'})`);
    },
  };
}

export function mountFilesRoute(router: Router, state: () => Record<string, unknown>, tls?: TlsMaterial): void {
  router.get(
    '/agent/:id/files/read',
    async (req) => {
      const a = agentAddress(state(), req.params.id!);
      if (!a) throw new NotFoundError(`no registered agent '${req.params.id}'`);
      const where = `${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.port}`;
      const q = new URLSearchParams();
      for (const k of ['path', 'offset', 'length']) if (req.query.has(k)) q.set(k, req.query.get(k)!);
      const url = `${tls ? 'https' : 'http'}://${where}/files/read?${q}`;
      const r = await requestJson(url, { timeoutMs: 5000, ...(tls ? { tls: agentTls(tls, a.id, where) } : {}) }).catch((e: Error) => ({ status: 502, body: { message: `agent ${a.id} did not answer: ${e.message}` } }));
      return { status: r.status, json: r.body ?? {} };
    },
    { summary: "read a file in a task's sandbox on that agent (the agent's /files/read)", query: { path: 'absolute path inside a sandbox', offset: 'byte offset', length: 'bytes' } },
  );
}
