/**
 * One health probe each for HTTP (GET, 2xx/3xx healthy), TCP (connect) and COMMAND (exit 0).
 * A probe resolves with a failure reason (string) or undefined when healthy; it never throws and
 * stops its work when `signal` aborts (timeout).
 */
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { inNetns } from '../common/netns.js';
import type { HealthCheckSpec } from '../contracts/index.js';
import { signalGroup } from './proc.js';

export interface ProbeTarget {
  host: string;
  port?: number;
  /** For COMMAND checks: where and with which environment to run (the task's). */
  cwd: string;
  env: Record<string, string>;
  /** Run COMMAND checks inside this netns (the task's), when set. */
  netns?: string;
}

export type Probe = (spec: HealthCheckSpec, target: ProbeTarget, signal: AbortSignal) => Promise<string | undefined>;

export const realProbe: Probe = (spec, target, signal) => {
  if (spec.protocol === 'HTTP') return httpProbe(target, spec.path ?? '/', signal);
  if (spec.protocol === 'TCP') return tcpProbe(target, signal);
  return commandProbe(spec.command ?? '', target, signal);
};

function httpProbe(t: ProbeTarget, path: string, signal: AbortSignal): Promise<string | undefined> {
  if (!t.port) return Promise.resolve('no port for HTTP health check');
  return new Promise((resolve) => {
    const req = http.get({ host: t.host, port: t.port, path, signal, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400 ? undefined : `HTTP ${code}`);
    });
    req.on('error', (e) => resolve(signal.aborted ? 'timed out' : e.message));
  });
}

function tcpProbe(t: ProbeTarget, signal: AbortSignal): Promise<string | undefined> {
  if (!t.port) return Promise.resolve('no port for TCP health check');
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host, port: t.port as number });
    const done = (why: string | undefined) => {
      signal.removeEventListener('abort', onAbort);
      s.destroy();
      resolve(why);
    };
    const onAbort = () => done('timed out');
    signal.addEventListener('abort', onAbort);
    s.once('connect', () => done(undefined));
    s.once('error', (e) => done(e.message));
  });
}

function commandProbe(cmd: string, t: ProbeTarget, signal: AbortSignal): Promise<string | undefined> {
  if (!cmd) return Promise.resolve('no command for COMMAND health check');
  return new Promise((resolve) => {
    const [file, ...args] = inNetns(t.netns, ['sh', '-c', cmd]);
    const p = spawn(file!, args, { cwd: t.cwd, env: t.env, detached: true, stdio: 'ignore' });
    const onAbort = () => p.pid && signalGroup(p.pid, 'SIGKILL');
    signal.addEventListener('abort', onAbort);
    p.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      resolve(e.message);
    });
    p.once('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) resolve('timed out');
      else resolve(code === 0 ? undefined : sig ? `killed by ${sig}` : `exit ${code}`);
    });
  });
}
