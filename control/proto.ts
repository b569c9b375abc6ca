/**
 * Loads control.proto at run time. tsc does not copy .proto files into dist/, so the file is found
 * by walking up from this module to the package root (works from control/*.ts under tsx and from
 * dist/control/*.js).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export function protoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && existsSync(join(dir, 'control', 'control.proto'))) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sextant') return join(dir, 'control', 'control.proto');
      } catch {
        /* not our package.json: keep walking */
      }
    }
    dir = dirname(dir);
  }
  throw new Error('control.proto not found above ' + fileURLToPath(import.meta.url));
}

export interface WireHello {
  agent_id: string;
  history: string;
  version: number;
  parts: string[];
}
export interface WireAck {
  version: number;
  error: string;
}
export interface WireAgentMessage {
  msg?: 'hello' | 'ack';
  hello?: WireHello | null;
  ack?: WireAck | null;
}
export interface WirePartUpdate {
  part: string;
  upserts: string[];
  removes: string[];
}
export interface WireUpdate {
  history: string;
  version: number;
  full: boolean;
  from_version: number;
  parts: WirePartUpdate[];
  overlay: string;
}

export interface ControlProto {
  /** Service definition with the stock (de)serializers. */
  service: grpc.ServiceDefinition;
  /** Client constructor for the Control service. */
  Client: grpc.ServiceClientConstructor;
  encodeUpdate(u: WireUpdate): Buffer;
  decodeUpdate(b: Buffer): WireUpdate;
  encodeAgentMessage(m: WireAgentMessage): Buffer;
  decodeAgentMessage(b: Buffer): WireAgentMessage;
}

let cached: ControlProto | undefined;

export function loadControlProto(): ControlProto {
  if (cached) return cached;
  const def = protoLoader.loadSync(protoPath(), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { sextant: { control: { v1: { Control: grpc.ServiceClientConstructor } } } };
  const Client = pkg.sextant.control.v1.Control;
  const watch = Client.service.Watch!;
  cached = {
    service: Client.service,
    Client,
    encodeUpdate: (u) => watch.responseSerialize(u),
    decodeUpdate: (b) => watch.responseDeserialize(b) as WireUpdate,
    encodeAgentMessage: (m) => watch.requestSerialize(m),
    decodeAgentMessage: (b) => watch.requestDeserialize(b) as WireAgentMessage,
  };
  return cached;
}
