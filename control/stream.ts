/**
 * One agent's watch stream on the master. At most one update is in flight per stream: while it is
 * unflushed (a slow or stalled reader), newer versions only mark the stream dirty, and when the
 * write completes the stream gets one delta from what it was last sent to the latest version. So a
 * client that stops reading costs the master one message, never a growing queue.
 */
import * as grpc from '@grpc/grpc-js';
import type { SnapshotEngine } from './engine.js';
import { AGENT_ID, peerIdentity, refuseAgentId, refuseCaller, type PeerIdentity, type Refusal } from './identity.js';
import type { WireAgentMessage } from './proto.js';
import { PART_NAMES, type PartName } from '../contracts/index.js';

/** What the server's deserializer hands the stream: a message, or why the bytes were not one. */
export type Incoming = WireAgentMessage | { garbage: string };

export interface StreamHost {
  readonly engine: SnapshotEngine;
  /** Mutual TLS is on: every stream must come from an agent's certificate and watch as that agent. */
  readonly authenticated: boolean;
  isKnownAgent(id: string): boolean;
  attach(s: AgentStream): void;
  detach(s: AgentStream): void;
  sent(s: AgentStream, bytes: number, full: boolean): void;
  acked(s: AgentStream, version: number, error: string): void;
  rejected(reason: string, details: string, peer: string): void;
  refused(refusal: Refusal, peer: string, identity: PeerIdentity): void;
}

export class AgentStream {
  agentId = '';
  parts: PartName[] = [];
  sentHistory = '';
  sentVersion = 0;
  private state: 'hello' | 'watching' | 'closed' = 'hello';
  private inFlight = false;
  private dirty = false;
  readonly peer: string;
  /** Who the client certificate says the peer is (`anonymous` without mutual TLS). */
  readonly identity: PeerIdentity;
  /** Updates and bytes written on this stream. */
  sentMessages = 0;
  sentBytes = 0;

  constructor(
    private readonly call: grpc.ServerDuplexStream<Incoming, Buffer>,
    private readonly host: StreamHost,
  ) {
    this.peer = safePeer(call);
    this.identity = host.authenticated ? peerIdentity(call) : { kind: 'anonymous' };
    call.on('data', (m: Incoming) => this.onMessage(m));
    call.on('end', () => this.close(true));
    call.on('cancelled', () => this.close(false));
    call.on('error', () => this.close(false));
    // Not an agent's certificate: refused before it can send anything, hello included.
    const r = host.authenticated ? refuseCaller(this.identity) : undefined;
    if (r) this.refuse(r);
  }

  get watching(): boolean {
    return this.state === 'watching';
  }

  /** End the stream with a gRPC status (e.g. replaced by a newer stream, server stopping). */
  fail(code: grpc.status, details: string): void {
    if (this.state === 'closed') return;
    const wasWatching = this.state === 'watching';
    this.state = 'closed';
    if (wasWatching) this.host.detach(this);
    this.call.emit('error', { code, details } as grpc.ServiceError);
  }

  private reject(code: grpc.status, reason: string, details: string): void {
    this.host.rejected(reason, details, this.peer);
    this.fail(code, details);
  }

  private refuse(r: Refusal): void {
    this.host.refused(r, this.peer, this.identity);
    this.fail(grpc.status[r.code], r.details);
  }

  private close(graceful: boolean): void {
    if (this.state === 'closed') return;
    const wasWatching = this.state === 'watching';
    this.state = 'closed';
    if (wasWatching) this.host.detach(this);
    if (graceful) this.call.end();
  }

  private onMessage(m: Incoming): void {
    if (this.state === 'closed') return;
    if ('garbage' in m) return this.reject(grpc.status.INVALID_ARGUMENT, 'malformed', `malformed AgentMessage: ${m.garbage}`);
    if (this.state === 'hello') return this.onHello(m);
    if (m.msg !== 'ack' || !m.ack) return this.reject(grpc.status.INVALID_ARGUMENT, 'protocol', `expected an ack after hello, got ${m.msg ?? 'an empty message'}`);
    const { version, error } = m.ack;
    if (!Number.isSafeInteger(version) || version > this.sentVersion || version < 0)
      return this.reject(grpc.status.INVALID_ARGUMENT, 'protocol', `ack for version ${version}, which was never sent on this stream (last sent ${this.sentVersion})`);
    this.host.acked(this, version, error);
  }

  private onHello(m: WireAgentMessage): void {
    const h = m.msg === 'hello' ? m.hello : undefined;
    if (!h) return this.reject(grpc.status.INVALID_ARGUMENT, 'protocol', `the first message must be a hello, got ${m.msg ?? 'an empty message'}`);
    if (!AGENT_ID.test(h.agent_id)) return this.reject(grpc.status.INVALID_ARGUMENT, 'protocol', `hello.agent_id ${JSON.stringify(h.agent_id.slice(0, 64))} is not a valid agent id`);
    const denied = this.host.authenticated ? refuseAgentId(this.identity, h.agent_id) : undefined;
    if (denied) return this.refuse(denied);
    const bad = h.parts.filter((p) => !(PART_NAMES as string[]).includes(p));
    if (bad.length) return this.reject(grpc.status.INVALID_ARGUMENT, 'protocol', `hello.parts: unknown part ${JSON.stringify(bad[0])} (known: ${PART_NAMES.join(', ')})`);
    if (!Number.isSafeInteger(h.version) || h.version < 0) return this.reject(grpc.status.INVALID_ARGUMENT, 'protocol', `hello.version ${h.version} is not a version`);
    if (!this.host.isKnownAgent(h.agent_id)) return this.reject(grpc.status.NOT_FOUND, 'unknown_agent', `unknown agent id '${h.agent_id}': not registered with this master`);
    this.agentId = h.agent_id;
    this.parts = h.parts.length ? [...new Set(h.parts as PartName[])].sort() : [...PART_NAMES];
    this.sentHistory = h.history;
    this.sentVersion = h.version;
    this.state = 'watching';
    this.host.attach(this);
    this.pump(true);
  }

  /** Send what brings the agent to the current version (always once right after hello). */
  pump(force = false): void {
    if (this.state !== 'watching') return;
    const engine = this.host.engine;
    if (!force && this.sentHistory === engine.history && this.sentVersion === engine.version) return;
    if (this.inFlight) {
      this.dirty = true;
      return;
    }
    const u = engine.updateFor(this.sentHistory, this.sentVersion, this.parts);
    this.inFlight = true;
    this.dirty = false;
    this.sentHistory = engine.history;
    this.sentVersion = u.version;
    this.sentMessages++;
    this.sentBytes += u.buf.length;
    this.host.sent(this, u.buf.length, u.full);
    this.call.write(u.buf, () => {
      this.inFlight = false;
      if (this.dirty) this.pump();
    });
  }

  /** Messages queued in the stream (at most one in flight by design; the slow-client test reads it). */
  get queued(): number {
    return this.call.writableLength;
  }

  get writing(): boolean {
    return this.inFlight;
  }
}

function safePeer(call: grpc.ServerDuplexStream<Incoming, Buffer>): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}
