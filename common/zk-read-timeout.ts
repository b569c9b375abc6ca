/**
 * A read timeout for node-zookeeper-client, as ZooKeeper's own Java client has one.
 *
 * node-zookeeper-client notices a dead connection only when its socket fails. A partition that drops
 * packets (a firewall, a cable, a namespace cut off) closes nothing: the client stays "connected"
 * to a server it no longer hears while the ensemble expires its session, deletes its ephemeral
 * znodes and fires watches it never receives. A master following the election that way never
 * learns that the leader is gone and never takes over; an agent never learns of a new leader.
 *
 * The Java client drops a connection it has heard nothing on for two thirds of the session
 * timeout and tries the next server (the client pings after a third of the timeout of idleness, so
 * a live server always answers within that window). This does the same, carefully for a busy event
 * loop: after half the timeout of silence it asks the server something (`exists /`, answered by any
 * live server whatever the ACLs), and drops the connection only if that stays unanswered for a
 * quarter of the timeout more (so at least two thirds in all), checked once more after pending I/O
 * was read. The client then reconnects to another server of the ensemble with the same session
 * (or learns that it expired), as it does after any lost connection.
 *
 * It reaches into the client's connection manager (node-zookeeper-client 1.1.x: `socket`,
 * `getSessionTimeout()`); should that change, watchReads() throws at once rather than leave a
 * session that cannot notice a partition.
 */
import type { Socket } from 'node:net';

interface ManagerInternals {
  socket?: Socket;
  getSessionTimeout(): number;
}

/** The part of a node-zookeeper-client Client this uses. */
export interface ReadTimeoutClient {
  on(event: 'connected', fn: () => void): unknown;
  exists(path: string, cb: (e: unknown) => void): void;
}

export interface ReadTimeoutOptions {
  /** Whether the client is connected now (the caller's state). */
  connected: () => boolean;
  /** Called before a silent connection is dropped: how long nothing was read on it. */
  onSilent?: (silentMs: number) => void;
  /** The session timeout when the client does not know the negotiated one yet (ms). */
  sessionTimeoutMs: number;
}

/** Watch the client's connection; returns a function that stops watching. */
export function watchReads(client: ReadTimeoutClient, o: ReadTimeoutOptions): () => void {
  const cm = (client as unknown as { connectionManager?: ManagerInternals }).connectionManager;
  if (!cm || typeof cm.getSessionTimeout !== 'function')
    throw new Error('node-zookeeper-client: its connection manager is not the one watchReads() knows; a partition that drops packets would go unnoticed');
  let sock: Socket | undefined;
  let lastRead = Date.now();
  let askedAt = 0;
  const onData = () => {
    lastRead = Date.now();
  };
  const hook = () => {
    const s = cm.socket;
    if (!s || s === sock) return;
    sock?.off('data', onData);
    sock = s;
    s.on('data', onData);
    lastRead = Date.now();
    askedAt = 0;
  };
  client.on('connected', hook);
  const timeoutMs = () => {
    const t = cm.getSessionTimeout();
    return t > 0 ? t : o.sessionTimeoutMs;
  };
  const silentTooLong = (now: number, t: number) => askedAt > 0 && lastRead < askedAt && now - askedAt >= t / 4 && now - lastRead >= (t * 2) / 3;
  const check = () => {
    if (!o.connected()) return;
    hook();
    const now = Date.now();
    const t = timeoutMs();
    if (now - lastRead < t / 2) {
      askedAt = 0;
      return;
    }
    if (!askedAt || lastRead >= askedAt) {
      askedAt = now;
      client.exists('/', () => undefined);
      return;
    }
    if (!silentTooLong(now, t)) return;
    const s = sock;
    // Timers run before pending reads are taken: look again once they are.
    setImmediate(() => {
      if (s !== sock || !o.connected() || !silentTooLong(Date.now(), timeoutMs())) return;
      o.onSilent?.(Date.now() - lastRead);
      s?.destroy(); // the client sees a lost connection: it tries the next server with the same session
    });
  };
  const timer = setInterval(check, Math.max(25, Math.floor(o.sessionTimeoutMs / 12)));
  timer.unref();
  return () => {
    clearInterval(timer);
    sock?.off('data', onData);
  };
}
