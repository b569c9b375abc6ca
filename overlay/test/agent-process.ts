/**
 * The overlay agent component as a real child process inside a namespace (child.ts), driven with
 * JSON lines: `apply` a snapshot or run a full `sync`; each command gets one JSON answer.
 */
import { fileURLToPath } from 'node:url';
import { spawnTracked, type Netns, type Tracked } from '../../test/lib/index.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

export interface AgentProcess {
  p: Tracked;
  send(msg: object): Promise<{ id: number; ok: boolean; lines: number; error?: string; last_error?: string | null }>;
}

export function agentProcess(t: { teardown(fn: () => unknown): void }, ns: Netns, id: string, kernel = 'netlink'): AgentProcess {
  const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', CHILD, id], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, SEXTANT_OVERLAY_KERNEL: kernel },
  });
  let seq = 0;
  return {
    p,
    async send(msg) {
      const n = ++seq;
      p.child.stdin!.write(JSON.stringify({ id: n, ...msg }) + '\n');
      const m = await p.waitFor(new RegExp(`^\\{"id":${n},.*$`, 'm'), 20000);
      return JSON.parse(m[0]);
    },
  };
}
