/**
 * Runs one command inside a User-Mode-Linux kernel (Debian `user-mode-linux`, which ships the
 * `ip_vs*` modules) booted with the host's root filesystem read-only (`rootfstype=hostfs`), so
 * `node` and the checkout run unchanged. The init script mounts proc/sys/tmp/run, loads modules
 * with `modprobe -d`, runs the command with its output in a per-run work directory (shared with
 * the host through hostfs at the same path) and powers off. Everything runs under a deadline and
 * the UML process group is killed by PID at the end, whatever happened.
 *
 * Hosts whose CPUs have AMX (xstate larger than UML 6.1's buffer) make UML die at the first
 * context switch ("ptrace set fp regs failed, errno = 14"). There the kernel is started through a
 * tiny seccomp filter (python3) that makes `PTRACE_GETREGSET(NT_X86_XSTATE)` fail, so UML falls
 * back to the legacy FP register calls, and `node` runs with AVX disabled (glibc, V8, and Go's
 * runtime for esbuild under tsx), whose upper register halves that fallback does not preserve
 * between threads.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { UmlError } from './errors.js';

export const UML_BINARY = '/usr/bin/linux.uml';
export const UML_MODULES = '/usr/lib/uml/modules';
export const DEFAULT_MODULES = ['ip_vs', 'ip_vs_wlc', 'ip_vs_mh', 'ip_vs_rr', 'dummy', 'veth', 'iptable_nat', 'ip6table_nat', 'xt_ipvs', 'xt_MASQUERADE', 'xt_comment'];

export interface UmlOptions {
  /** argv run inside UML; a first element `node` (or the host's node path) gets the UML node flags. */
  command: string[];
  /** Working directory inside UML (default: this process's cwd; the host's files are all there). */
  cwd?: string;
  env?: Record<string, string>;
  modules?: string[];
  memMb?: number;
  timeoutMs?: number;
  /** Work directory name prefix under os.tmpdir() (use the test's per-run prefix). */
  prefix?: string;
  /** Keep the work directory (for debugging). */
  keep?: boolean;
  signal?: AbortSignal;
  /**
   * Host CPU to run UML and its helper processes on (`taskset`). UML hands every system call of
   * its processes between host processes; on one CPU those hand-offs stay on one core's caches
   * and run queue (measured here: twice the iperf3 throughput inside UML, and steadier).
   */
  cpu?: number;
}

export const TASKSET = '/usr/bin/taskset';

export interface UmlResult {
  /** The command's exit status as the init script saw it; null when it never finished. */
  exitCode: number | null;
  /** The command's stdout and stderr. */
  output: string;
  /** The kernel console (boot messages, init script lines, modprobe failures). */
  console: string;
  durationMs: number;
  /** The per-run work directory (removed afterwards unless `keep`). */
  workDir: string;
}

/** Tools missing for the harness (empty when it can run). */
export function umlMissing(): string[] {
  const missing: string[] = [];
  if (!existsSync(UML_BINARY)) missing.push(`${UML_BINARY} (apt-get install user-mode-linux)`);
  if (!existsSync(UML_MODULES)) missing.push(`${UML_MODULES} (apt-get install user-mode-linux)`);
  if (!['/usr/sbin/modprobe', '/sbin/modprobe', '/usr/bin/modprobe'].some(existsSync)) missing.push('modprobe (apt-get install kmod)');
  if (needsXstateShim() && !findPython()) missing.push('python3 (needed to boot UML on a CPU with AMX)');
  return missing;
}

/** UML 6.1 cannot restore the xstate of CPUs with AMX tiles through ptrace. */
export function needsXstateShim(): boolean {
  const force = process.env.SEXTANT_UML_XSTATE_SHIM;
  if (force === '1' || force === '0') return force === '1';
  try {
    return /\bamx_tile\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

function findPython(): string | undefined {
  return ['/usr/bin/python3', '/usr/local/bin/python3'].find(existsSync);
}

/** The module directory of the UML kernel (`6.1.176`). */
export function umlKernelVersion(): string {
  const dirs = existsSync(UML_MODULES) ? readdirSync(UML_MODULES) : [];
  if (dirs.length !== 1) throw new UmlError(`expected one kernel under ${UML_MODULES}, found ${JSON.stringify(dirs)}`);
  return dirs[0]!;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Seccomp filter: ptrace(PTRACE_GETREGSET=0x4204, pid, NT_X86_XSTATE=0x202) -> EIO, else allow. */
const SHIM = `import ctypes, os, struct, sys
ins = [(0x20,0,0,4),(0x15,0,7,0xc000003e),(0x20,0,0,0),(0x15,0,5,101),(0x20,0,0,16),(0x15,0,3,0x4204),(0x20,0,0,32),(0x15,0,1,0x202),(0x06,0,0,0x00050005),(0x06,0,0,0x7fff0000)]
buf = ctypes.create_string_buffer(b''.join(struct.pack('HBBI', *i) for i in ins))
class Prog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
prog = Prog(len(ins), ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
    sys.exit('seccomp: ' + os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
`;

const NODE_FLAGS = ['--no-enable-avx', '--no-enable-avx2', '--no-enable-fma3'];
const GLIBC_NO_AVX = 'glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD,-FMA,-AVX_Fast_Unaligned_Load';

/** Paths the UML guest must see that the tmpfs over /tmp would hide (outermost first, no duplicates). */
export function hostPathsUnderTmp(paths: string[]): string[] {
  const under = [...new Set(paths.filter((p) => p === '/tmp' || p.startsWith('/tmp/')))].sort();
  return under.filter((p, i) => p !== '/tmp' && !under.slice(0, i).some((o) => p.startsWith(`${o}/`)));
}

function initScript(work: string, o: UmlOptions, shim: boolean): string {
  const env: Record<string, string> = {
    PATH: `${work}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: '/tmp',
    SEXTANT_UML: '1',
    SEXTANT_UML_OUT: work,
    SEXTANT_UML_NODE: shim ? `${work}/bin/node` : process.execPath,
    ...(shim ? { GLIBC_TUNABLES: GLIBC_NO_AVX, GODEBUG: 'cpu.all=off' } : {}),
    ...o.env,
  };
  const cmd = [...o.command];
  if (shim && (cmd[0] === 'node' || cmd[0] === process.execPath)) cmd[0] = `${work}/bin/node`;
  const mods = (o.modules ?? DEFAULT_MODULES).join(' ');
  return [
    '#!/bin/sh',
    'export PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t tmpfs tmp /tmp; mount -t tmpfs run /run',
    `mkdir -p ${q(work)} && mount -t hostfs -o ${q(work)} hostfs ${q(work)} || echo 'sextant-uml: cannot mount the work dir'`,
    // A checkout under /tmp (CI clones may live there) is hidden by the tmpfs: mount it back from the host.
    ...hostPathsUnderTmp([o.cwd ?? process.cwd(), dirname(process.execPath)]).map(
      (p) => `mkdir -p ${q(p)} && mount -t hostfs -o ${q(p)} hostfs ${q(p)} || echo 'sextant-uml: cannot mount ${p}'`,
    ),
    'echo "sextant-uml: booted $(uname -r)"',
    'ip link set lo up',
    ...Object.entries(env).map(([k, v]) => `export ${k}=${q(v)}`),
    // finit_module from hostfs fails at random (EINVAL): load from a tmpfs copy.
    `cp -a ${q(`${work}/modroot`)} /tmp/modroot`,
    `for m in ${mods}; do modprobe -d /tmp/modroot $m >> ${q(`${work}/modprobe.log`)} 2>&1; done`,
    `for m in ${mods}; do [ -d /sys/module/$m ] || echo "sextant-uml: module $m not loaded: $(tail -3 ${q(`${work}/modprobe.log`)})"; done`,
    `cd ${q(o.cwd ?? process.cwd())}`,
    `${cmd.map(q).join(' ')} > ${q(`${work}/output`)} 2>&1 < /dev/null`,
    `echo $? > ${q(`${work}/exit`)}`,
    'echo "sextant-uml: done"',
    'sync; echo o > /proc/sysrq-trigger',
    'sleep 10',
    '',
  ].join('\n');
}

/** The modules asked for, with their dependencies (from modules.dep), and modprobe's index files. */
export async function copyModules(ver: string, modules: string[], dest: string): Promise<void> {
  const src = join(UML_MODULES, ver);
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(join(src, 'modules.dep'), 'utf8')).split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(basename(mod).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_'), [mod, ...rest.trim().split(/\s+/).filter(Boolean)]);
  }
  const files = new Set<string>();
  for (const m of modules) {
    const d = deps.get(m.replace(/-/g, '_'));
    if (!d) throw new UmlError(`module ${m} is not in ${src}/modules.dep`);
    d.forEach((f) => files.add(f));
  }
  await mkdir(dest, { recursive: true });
  for (const f of readdirSync(src)) if (f.startsWith('modules.')) await copyFile(join(src, f), join(dest, f));
  for (const f of files) {
    await mkdir(dirname(join(dest, f)), { recursive: true });
    await copyFile(join(src, f), join(dest, f));
  }
}

async function prepare(o: UmlOptions, shim: boolean): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), `${o.prefix ?? 'sextant'}-uml-`));
  const ver = umlKernelVersion();
  await copyModules(ver, o.modules ?? DEFAULT_MODULES, join(work, 'modroot/lib/modules', ver));
  await mkdir(join(work, 'bin'));
  await writeFile(join(work, 'bin/node'), `#!/bin/sh\nexec ${q(process.execPath)} ${NODE_FLAGS.join(' ')} "$@"\n`);
  await chmod(join(work, 'bin/node'), 0o755);
  await writeFile(join(work, 'noxstate.py'), SHIM);
  await writeFile(join(work, 'init.sh'), initScript(work, o, shim));
  await chmod(join(work, 'init.sh'), 0o755);
  return work;
}

/** Boot UML, run the command, power off; rejects only when UML cannot be started at all. */
export async function runInUml(o: UmlOptions): Promise<UmlResult> {
  const missing = umlMissing();
  if (missing.length) throw new UmlError(`User-Mode-Linux harness needs ${missing.join(', ')}`, missing);
  const shim = needsXstateShim();
  const work = await prepare(o, shim);
  const started = Date.now();
  const umlArgs = [`mem=${o.memMb ?? 1024}M`, 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'ro', `init=${work}/init.sh`, 'con=null', 'con0=null,fd:1', `uml_dir=${work}`, `umid=uml`, 'quiet'];
  const [bin, binArgs] = shim ? [findPython()!, [join(work, 'noxstate.py'), UML_BINARY, ...umlArgs]] : [UML_BINARY, umlArgs];
  const [cmd, args] = o.cpu === undefined ? [bin, binArgs] : [TASKSET, ['-c', String(o.cpu), bin, ...binArgs]];
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: existsSync('/dev/shm') ? '/dev/shm' : work } });
  let consoleText = '';
  const onData = (d: Buffer) => {
    consoleText += d.toString();
    if (consoleText.length > 1 << 20) consoleText = consoleText.slice(-(512 << 10));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(killGroup, o.timeoutMs ?? 240_000);
  o.signal?.addEventListener('abort', killGroup, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('error', (e) => reject(new UmlError(`cannot start ${cmd}: ${e.message}`)));
      child.once('close', () => resolve());
    });
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', killGroup);
    killGroup(); // UML's helper processes share the group
  }
  const read = (f: string) => readFile(join(work, f), 'utf8').catch(() => undefined);
  const exit = await read('exit');
  const result: UmlResult = { exitCode: exit === undefined ? null : Number(exit.trim()), output: (await read('output')) ?? '', console: consoleText, durationMs: Date.now() - started, workDir: work };
  if (!o.keep) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  return result;
}
