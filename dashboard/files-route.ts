/**
 * `GET /agent/{agent_id}/files/read?path=...` on the master (Admin Router's `/agent/` layout): the
 * read-only sandbox file API of that agent (agent/files.ts), fetched for the page, which cannot
 * reach agents. Only this route is forwarded; the answer is the agent's, status included.
 */
import { NotFoundError, requestJson, type Router } from '../common/index.js';
import { agentAddress } from './dns-route.js';

export function mountFilesRoute(router: Router, state: () => Record<string, unknown>): void {
  router.get(
    '/agent/:id/files/read',
    async (req) => {
      const a = agentAddress(state(), req.params.id!);
      if (!a) throw new NotFoundError(`no registered agent '${req.params.id}'`);
      const host = a.ip.includes(':') ? `[${a.ip}]` : a.ip;
      const q = new URLSearchParams();
      for (const k of ['path', 'offset', 'length']) if (req.query.has(k)) q.set(k, req.query.get(k)!);
      const r = await requestJson(`http://${host}:${a.port}/files/read?${q}`, { timeoutMs: 5000 }).catch((e: Error) => ({ status: 502, body: { message: `agent ${a.id} did not answer: ${e.message}` } }));
      return { status: r.status, json: r.body ?? {} };
    },
    { summary: "read a file in a task's sandbox on that agent (the agent's /files/read)", query: { path: 'absolute path inside a sandbox', offset: 'byte offset', length: 'bytes' } },
  );
}
