/**
 * The runtime side of CNI (what libcni does for a container runtime): runs a conflist's plugins
 * in order for ADD with each one's result as the next one's `prevResult`, in reverse for DEL,
 * caches the ADD result for CHECK and DEL, and passes `runtimeConfig` only to plugins that
 * declare the capability. Used by the agent's attacher, the tests and the benchmark.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessError, run } from '../common/proc.js';
import { CniError, CODES } from './errors.js';
import type { Result } from './spec.js';

/** A plugin's exit code is read with its stdout (a CNI error is JSON with exit 1). */
const ANY_EXIT = Array.from({ length: 256 }, (_, i) => i);

export interface Conflist {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}
export type PluginConf = Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> };

export interface Attachment {
  containerId: string;
  /** Path of the namespace, e.g. /run/netns/<name>. */
  netns: string;
  ifname: string;
  args?: Record<string, string>;
  /** Capability-keyed runtime config, e.g. `{portMappings: [...]}`. */
  runtimeConfig?: Record<string, unknown>;
}

export interface RuntimeOptions {
  binDirs: string[];
  /** Where ADD results are kept for CHECK and DEL. */
  cacheDir: string;
  /** Run every plugin inside this network namespace (tests: the host stand-in; common/netns). */
  netns?: string;
  timeoutMs?: number;
}

export class CniRuntime {
  constructor(private readonly opts: RuntimeOptions) {}

  private find(type: string): string {
    if (!/^[\w.-]+$/.test(type)) throw new CniError(CODES.invalidConfig, `plugin type "${type}" is not a file name`);
    for (const d of this.opts.binDirs) if (existsSync(join(d, type))) return join(d, type);
    throw new CniError(CODES.invalidConfig, `plugin "${type}" not found in ${this.opts.binDirs.join(':')}`);
  }

  private cachePath(list: Conflist, a: Pick<Attachment, 'containerId' | 'ifname'>): string {
    return join(this.opts.cacheDir, `${list.name}-${a.containerId}-${a.ifname}.json`);
  }

  /** One plugin execution; resolves its stdout JSON (or undefined), rejects a CniError. */
  async exec(command: string, conf: Record<string, unknown>, a?: Attachment): Promise<any> {
    const path = this.find(String(conf.type));
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: command, CNI_PATH: this.opts.binDirs.join(':') };
    if (a) {
      Object.assign(env, { CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns, CNI_IFNAME: a.ifname });
      if (a.args) env.CNI_ARGS = Object.entries(a.args).map(([k, v]) => `${k}=${v}`).join(';');
    }
    let out: string;
    let err: string;
    let code: number | null;
    try {
      ({ stdout: out, stderr: err, code } = await run([path], { netns: this.opts.netns, env, input: JSON.stringify(conf), timeoutMs: this.opts.timeoutMs ?? 60000, okCodes: ANY_EXIT }));
    } catch (e) {
      // It could not start, or was killed (timeout): no CNI answer to read.
      throw new CniError(CODES.io, `cannot run ${path}: ${(e as Error).message}`, e instanceof ProcessError ? e.stderr : undefined);
    }
    let parsed: any;
    try {
      parsed = out.trim() ? JSON.parse(out) : undefined;
    } catch {
      throw new CniError(CODES.decode, `${conf.type} ${command} printed invalid JSON: ${out.slice(0, 200)}`, err);
    }
    if (code === 0) return parsed;
    const msg = parsed?.msg ? `${conf.type} ${command}: ${parsed.msg}` : `${conf.type} ${command} exited ${code}: ${err.trim()}`;
    throw new CniError(typeof parsed?.code === 'number' ? parsed.code : CODES.io, msg, parsed?.details ?? err);
  }

  private pluginConf(list: Conflist, p: PluginConf, a: Attachment | undefined, prevResult?: unknown): Record<string, unknown> {
    const conf: Record<string, unknown> = { ...p, name: list.name, cniVersion: list.cniVersion };
    delete conf.capabilities;
    const rc: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a?.runtimeConfig ?? {})) if (p.capabilities?.[k]) rc[k] = v;
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
    if (prevResult !== undefined) conf.prevResult = prevResult;
    return conf;
  }

  async add(list: Conflist, a: Attachment): Promise<Result> {
    let prev: any;
    try {
      for (const p of list.plugins) prev = await this.exec('ADD', this.pluginConf(list, p, a, prev), a);
    } catch (e) {
      await this.del(list, a).catch(() => undefined);
      throw e;
    }
    await mkdir(this.opts.cacheDir, { recursive: true });
    await writeFile(this.cachePath(list, a), JSON.stringify({ result: prev, attachment: a }));
    return prev as Result;
  }

  async cached(list: Conflist, a: Pick<Attachment, 'containerId' | 'ifname'>): Promise<{ result: Result; attachment: Attachment } | undefined> {
    try {
      return JSON.parse(await readFile(this.cachePath(list, a), 'utf8'));
    } catch {
      return undefined;
    }
  }

  async check(list: Conflist, a: Attachment): Promise<void> {
    if (list.disableCheck) return;
    const c = await this.cached(list, a);
    if (!c) throw new CniError(CODES.invalidConfig, `no cached ADD result for ${a.containerId}/${a.ifname} on ${list.name}`);
    for (const p of list.plugins) await this.exec('CHECK', this.pluginConf(list, p, a, c.result), a);
  }

  /** Idempotent; uses the cached result (and runtime config) of ADD when there is one. */
  async del(list: Conflist, a: Attachment): Promise<void> {
    const c = await this.cached(list, a);
    const att = { ...a, runtimeConfig: a.runtimeConfig ?? c?.attachment.runtimeConfig };
    for (const p of [...list.plugins].reverse()) await this.exec('DEL', this.pluginConf(list, p, att, c?.result), att);
    await rm(this.cachePath(list, a), { force: true });
  }

  /** GC on every plugin that speaks 1.1.0 (the standard ones stop at 1.0.0 and are skipped). */
  async gc(list: Conflist, valid: { containerID: string; ifname: string }[]): Promise<void> {
    for (const p of list.plugins) {
      const v = await this.exec('VERSION', { type: p.type, cniVersion: '1.1.0' });
      if (!v?.supportedVersions?.includes('1.1.0')) continue;
      await this.exec('GC', { ...this.pluginConf({ ...list, cniVersion: '1.1.0' }, p, undefined), 'cni.dev/valid-attachments': valid });
    }
  }
}
