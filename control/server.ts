/**
 * ControlServer: the master side of the control plane. A gRPC server (default :5060) with the
 * snapshot engine; every new version is handed to each agent stream, which sends the delta from
 * what that agent was last sent. Per agent it keeps last sent / applied / failed (+ error).
 */
import * as grpc from '@grpc/grpc-js';
import ipaddr from 'ipaddr.js';
import { systemClock } from '../common/clock.js';
import type { Component } from '../common/daemon.js';
import { ConfigError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { limitedLogger, LogLimiter, logDroppedCounter } from '../common/log-limit.js';
import { createRegistry, type Registry } from '../common/metrics.js';
import { AgentTable, type ControlStatus } from './agents.js';
import { SnapshotEngine, type EngineOptions } from './engine.js';
import { serverMetrics, type ServerMetrics } from './metrics.js';
import { loadControlProto } from './proto.js';
import type { PeerIdentity, Refusal } from './identity.js';
import { AgentStream, type Incoming, type StreamHost } from './stream.js';
import { serverCredentials, type TlsOptions } from './tls.js';
import { listenMutualTls, type HandshakeFailure, type MutualTlsListener } from './tls-listener.js';
import type { PartSource } from '../contracts/index.js';

export const DEFAULT_CONTROL_PORT = 5060;

/** 0.0.0.0, ::, and their other spellings: every address of the host. */
function isWildcard(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(h) && ipaddr.parse(h).range() === 'unspecified';
}

export interface ControlServerOptions extends EngineOptions {
  /**
   * Listen address: the master's internal address or loopback (default 127.0.0.1); a wildcard
   * (0.0.0.0, ::) is refused. Port: default 5060; 0 picks a free one.
   */
  host?: string;
  port?: number;
  /**
   * Mutual TLS with the cluster CA; plaintext (with a warning) when absent. With it, every stream
   * must come from an agent's certificate (`spiffe://sextant/agent/<id>`) and watch as that agent.
   */
  tls?: TlsOptions;
  /** Which agent ids may watch (default: any). */
  isKnownAgent?: (agentId: string) => boolean;
  sources?: PartSource[];
  registry?: Registry;
  /** Max bytes of one incoming message (default 64 KiB: agents send only hellos and acks). */
  maxReceiveBytes?: number;
}

export class ControlServer implements Component, StreamHost {
  readonly name = 'control-server';
  readonly engine: SnapshotEngine;
  private readonly log: Logger;
  /** For lines a peer can trigger once per connection (refusals, rejected streams). */
  private readonly peerLog: Logger;
  private readonly table = new AgentTable();
  private readonly streams = new Map<string, AgentStream>();
  private readonly metrics: ServerMetrics;
  private readonly clock;
  private server: grpc.Server | undefined;
  private listener: MutualTlsListener | undefined;
  private boundPort = 0;
  private offVersion: (() => void) | undefined;

  constructor(private readonly opts: ControlServerOptions = {}) {
    this.log = opts.log ?? createLogger('control');
    this.engine = new SnapshotEngine({ ...opts, log: this.log });
    this.clock = { now: () => (opts.clock ?? { now: Date.now }).now() };
    for (const s of opts.sources ?? []) this.engine.addSource(s);
    const registry = opts.registry ?? createRegistry();
    this.metrics = serverMetrics(registry, () => this.table.lags(this.engine.history, this.engine.version));
    this.peerLog = limitedLogger(this.log, new LogLimiter({ perSecond: 1, burst: 10 }, opts.clock ?? systemClock), logDroppedCounter(registry, 'control'));
  }

  /** Mutual TLS is on (StreamHost): streams are checked against the client certificate's agent id. */
  get authenticated(): boolean {
    return this.opts.tls !== undefined;
  }

  addSource(source: PartSource): void {
    this.engine.addSource(source);
  }

  async start(): Promise<void> {
    await this.engine.start();
    this.metrics.version.set(this.engine.version);
    this.offVersion = this.engine.onVersion((v) => this.push(v));
    const proto = loadControlProto();
    const watch = proto.service.Watch!;
    // Updates are encoded once per (from version, parts) by the engine and shared by every stream;
    // bytes that do not decode become a value the stream answers with INVALID_ARGUMENT.
    const service: grpc.ServiceDefinition = {
      Watch: {
        ...watch,
        responseSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer): Incoming => {
          try {
            return proto.decodeAgentMessage(b);
          } catch (e) {
            return { garbage: (e as Error).message };
          }
        },
      },
    };
    const server = new grpc.Server({ 'grpc.max_receive_message_length': this.opts.maxReceiveBytes ?? 64 << 10, 'grpc.keepalive_time_ms': 30000 });
    server.addService(service, { Watch: (call: grpc.ServerDuplexStream<Incoming, Buffer>) => new AgentStream(call, this) });
    const host = this.opts.host ?? '127.0.0.1';
    if (isWildcard(host)) throw new ConfigError('control host', `'${host}' is a wildcard: the control plane listens on the master's internal address or loopback only`);
    const port = this.opts.port ?? DEFAULT_CONTROL_PORT;
    if (this.opts.tls) {
      // Our own TLS listener, so that failed handshakes are counted (control/tls-listener.ts).
      this.listener = await listenMutualTls(server, { host, port, tls: this.opts.tls, onFailure: (f) => this.handshakeFailed(f), onError: (err) => this.log.warn('listener_error', { err }) });
      this.boundPort = this.listener.port;
    } else {
      const creds = serverCredentials(undefined, this.log);
      this.boundPort = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
      );
    }
    this.server = server;
    this.log.info('listening', { host, port: this.boundPort, tls: !!this.opts.tls, history: this.engine.history, version: this.engine.version });
  }

  async stop(): Promise<void> {
    this.offVersion?.();
    for (const s of [...this.streams.values()]) s.fail(grpc.status.UNAVAILABLE, 'control server stopping');
    await this.engine.stop();
    const listener = this.listener;
    this.listener = undefined;
    listener?.stopAccepting();
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    listener?.destroyRemaining();
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  status(): ControlStatus {
    return this.table.status(this.engine.history, this.engine.version);
  }

  /** Connected streams, for tests and the bench (slow-client bound). */
  connectedStreams(): AgentStream[] {
    return [...this.streams.values()];
  }

  private push(version: number): void {
    const start = process.hrtime.bigint();
    for (const s of this.streams.values()) s.pump();
    this.metrics.version.set(version);
    this.metrics.pushDuration.observe(Number(process.hrtime.bigint() - start) / 1e9);
  }

  // StreamHost

  isKnownAgent(id: string): boolean {
    try {
      return this.opts.isKnownAgent ? this.opts.isKnownAgent(id) : true;
    } catch (e) {
      this.log.warn('known_agent_check_failed', { agent_id: id, err: e });
      return false;
    }
  }

  attach(s: AgentStream): void {
    const old = this.streams.get(s.agentId);
    this.streams.set(s.agentId, s);
    if (old) old.fail(grpc.status.ABORTED, `replaced by a newer watch stream from agent '${s.agentId}'`);
    this.table.connect(s.agentId, s.peer, s.parts, s.sentHistory, s.sentVersion, this.clock.now());
    this.metrics.streams.set(this.streams.size);
    this.log.info('agent_connected', { agent_id: s.agentId, peer: s.peer, history: s.sentHistory, version: s.sentVersion, parts: s.parts });
  }

  detach(s: AgentStream): void {
    if (this.streams.get(s.agentId) === s) this.streams.delete(s.agentId);
    this.table.disconnect(s.agentId);
    this.metrics.streams.set(this.streams.size);
    this.log.info('agent_disconnected', { agent_id: s.agentId, peer: s.peer });
  }

  sent(s: AgentStream, bytes: number, full: boolean): void {
    this.table.sent(s.agentId, s.sentHistory, s.sentVersion);
    this.metrics.bytesSent.inc(bytes);
    this.metrics.updatesSent.inc({ kind: full ? 'full' : 'delta' });
  }

  acked(s: AgentStream, version: number, error: string): void {
    const now = this.clock.now();
    if (error) {
      this.table.nack(s.agentId, version, error, now);
      this.metrics.nacks.inc();
      this.log.warn('nack', { agent_id: s.agentId, version, error });
      return;
    }
    this.table.ack(s.agentId, s.sentHistory, version, now);
    const t = this.engine.versionTime(version);
    if (t !== undefined && s.sentHistory === this.engine.history) this.metrics.convergence.observe(Math.max(0, now - t) / 1000);
  }

  rejected(reason: string, details: string, peer: string): void {
    this.metrics.rejected.inc({ reason });
    this.peerLog.warn('stream_rejected', { reason, details, peer });
  }

  refused(r: Refusal, peer: string, identity: PeerIdentity): void {
    this.metrics.refused.inc({ reason: r.reason });
    const who = 'uri' in identity ? identity.uri : identity.kind;
    this.peerLog.warn('stream_refused', { reason: r.reason, code: r.code, details: r.details, peer, identity: who });
  }

  /** A TLS handshake on the control port failed: nothing reached grpc-js (control/tls-listener.ts). */
  private handshakeFailed(f: HandshakeFailure): void {
    this.metrics.refused.inc({ reason: f.reason });
    this.peerLog.warn('tls_handshake_failed', { reason: f.reason, code: f.code, peer: f.peer });
  }
}
