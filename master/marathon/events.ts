/**
 * Marathon's event stream (`GET /v2/events`, server-sent events): every event is
 * `event: <eventType>\ndata: <json>\n\n`; `?event_type=a&event_type=b` filters.
 */
import type http from 'node:http';

export type MarathonEvent = { eventType: string; timestamp: string } & Record<string, unknown>;

interface Subscriber {
  res: http.ServerResponse;
  types: Set<string>;
}

export class EventBus {
  private readonly subs = new Set<Subscriber>();
  private readonly listeners = new Set<(e: MarathonEvent) => void>();

  constructor(private readonly now: () => number) {}

  emit(eventType: string, fields: Record<string, unknown>): void {
    const e: MarathonEvent = { eventType, timestamp: new Date(this.now()).toISOString(), ...fields };
    const frame = `event: ${eventType}\ndata: ${JSON.stringify(e)}\n\n`;
    for (const s of this.subs) if (!s.types.size || s.types.has(eventType)) s.res.write(frame);
    for (const l of this.listeners) l(e);
  }

  /** In-process subscription (tests, components). */
  on(fn: (e: MarathonEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Attach an HTTP response as an SSE stream until the client goes away. */
  attach(req: http.IncomingMessage, res: http.ServerResponse, types: string[], remoteAddress: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const sub: Subscriber = { res, types: new Set(types) };
    this.subs.add(sub);
    const attached = { eventType: 'event_stream_attached', timestamp: new Date(this.now()).toISOString(), remoteAddress };
    res.write(`event: event_stream_attached\ndata: ${JSON.stringify(attached)}\n\n`);
    const keepalive = setInterval(() => res.write('\n'), 15000);
    keepalive.unref();
    const done = () => {
      clearInterval(keepalive);
      this.subs.delete(sub);
    };
    req.on('close', done);
    res.on('close', done);
  }

  close(): void {
    for (const s of this.subs) s.res.end();
    this.subs.clear();
  }

  get subscribers(): number {
    return this.subs.size;
  }
}
