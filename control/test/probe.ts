/**
 * A raw watch, as an attacker (or a test) would open one: its own credentials, any agent id, and
 * what came back (the gRPC status, how many updates were streamed). Used by the loopback TLS test
 * and by the attacker process of the network-namespace e2e (test/e2e/control-attacker.ts).
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadControlProto, type WireAgentMessage, type WireUpdate } from '../proto.js';

export type ProbeCreds = { kind: 'plaintext' } | { kind: 'tls'; ca: string; cert?: string; key?: string };

export interface ProbeResult {
  /** The gRPC status name (`OK` when the wanted updates arrived), or `TIMEOUT`. */
  code: string;
  details: string;
  updates: number;
  /** Entries received per part, summed over the updates. */
  entries: Record<string, number>;
}

export interface ProbeOptions {
  /** Stop (OK) after this many updates (default 1). */
  updates?: number;
  timeoutMs?: number;
}

function credentials(c: ProbeCreds): grpc.ChannelCredentials {
  if (c.kind === 'plaintext') return grpc.credentials.createInsecure();
  const f = (p: string | undefined) => (p ? readFileSync(p) : null);
  return grpc.credentials.createSsl(readFileSync(c.ca), f(c.key), f(c.cert));
}

export function probeWatch(target: string, creds: ProbeCreds, agentId: string, o: ProbeOptions = {}): Promise<ProbeResult> {
  const want = o.updates ?? 1;
  const { Client } = loadControlProto();
  const client = new Client(target, credentials(creds));
  const call = (client as unknown as { Watch(): grpc.ClientDuplexStream<WireAgentMessage, WireUpdate> }).Watch();
  const result: ProbeResult = { code: 'TIMEOUT', details: '', updates: 0, entries: {} };
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const finish = (code: string, details: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      Object.assign(result, { code, details });
      call.cancel();
      client.close();
      resolve(result);
    };
    const timer = setTimeout(() => finish('TIMEOUT', `no answer in ${o.timeoutMs ?? 10_000} ms`), o.timeoutMs ?? 10_000);
    call.on('data', (u: WireUpdate) => {
      result.updates++;
      for (const p of u.parts) result.entries[p.part] = (result.entries[p.part] ?? 0) + p.upserts.length;
      if (result.updates >= want) return finish('OK', '');
      call.write({ msg: 'ack', ack: { version: u.version, error: '' } });
    });
    call.on('error', (e: grpc.ServiceError) => finish(grpc.status[e.code] ?? String(e.code), e.details));
    call.on('end', () => finish('ENDED', 'the server ended the stream'));
    call.write({ msg: 'hello', hello: { agent_id: agentId, history: '', version: 0, parts: [] } });
  });
}
