/**
 * The ipvs driver on a real IPVS kernel: the host kernel here has no CONFIG_IP_VS, so this boots
 * User-Mode-Linux (l4lb/ipvs/uml.ts) and runs inside.uml.ts there with the same node. The host
 * side asserts on what UML reports: its TAP lines, one host assertion per inside assertion.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { requireTools, runId } from '../../../test/lib/index.js';
import { runInUml } from '../uml.js';

const EXPECTED = [
  'ipvs driver satisfies the l4lb driver contract',
  'probeDriver(auto) picks ipvs where the IPVS family resolves',
  'ipvsadm -Ln agrees with dump(), for wlc and mh',
  'traffic through VIPs reaches backends in namespaces',
  'a nodeIp that is not an address here: no preferred source, every flow masqueraded',
  'a VIP on two ports keeps its route until its last service goes',
];

/** PIDs of processes running with `text` (a work dir, a prefix) on their command line. */
function processesWith(text: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)) pids.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return pids;
}

t.test('UML harness: boots, loads ip_vs, runs a command, powers off, leaves nothing behind', async (t) => {
  requireTools('linux.uml', 'modprobe', 'ipvsadm');
  const r = await runInUml({ command: ['sh', '-c', 'ipvsadm -Ln && cat /proc/sys/net/ipv4/vs/conntrack && exit 7'], prefix: `sx${runId}`, timeoutMs: 90_000 });
  t.equal(r.exitCode, 7, `the command's exit status comes back\n${r.console.slice(-1500)}`);
  t.match(r.output, /IP Virtual Server version/, 'ipvsadm talks to ip_vs inside UML');
  t.notMatch(r.console, /module \S+ not loaded/, 'every module loaded');
  t.match(r.console, /Power down/, 'UML powered off by itself');
  t.same(processesWith(r.workDir), [], 'no UML process left');
});

t.test('UML harness: `cpu` runs UML and its helper processes on that host CPU only', async (t) => {
  requireTools('linux.uml', 'modprobe', 'taskset');
  const prefix = `sx${runId}pin`;
  // UML's processes carry the work dir (under this prefix) on their command lines; read their
  // affinity while UML boots and runs (seconds; /proc has no event for it, so it is polled every 10 ms).
  const seen = new Map<number, string>();
  let running = true;
  const watch = (async () => {
    while (running) {
      for (const pid of processesWith(`${prefix}-uml-`)) {
        if (seen.has(pid)) continue;
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          // taskset itself carries UML's command line until it has set the mask and exec'd UML under
          // the same pid: judge that pid on a later poll, once it runs UML (a busy host widens the window).
          if (/^Name:\s*taskset$/m.test(status)) continue;
          const cpus = /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1];
          if (cpus) seen.set(pid, cpus);
        } catch {
          /* exited */
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const r = await runInUml({ command: ['sh', '-c', 'echo pinned-run'], prefix, timeoutMs: 90_000, cpu: 0 });
  running = false;
  await watch;
  t.match(r.output, /pinned-run/, `the command ran\n${r.console.slice(-1500)}`);
  t.ok(seen.size > 0, 'UML processes were seen on the host');
  t.same([...new Set(seen.values())], ['0'], 'every one of them may run on CPU 0 only');
});

t.test('ipvs driver inside UML: contract, ipvsadm agreement, traffic', async (t) => {
  requireTools('linux.uml', 'modprobe', 'ipvsadm');
  const r = await runInUml({ command: [process.execPath, '--import', 'tsx', 'l4lb/ipvs/test/inside.uml.ts'], prefix: `sx${runId}`, timeoutMs: 240_000 });
  const lines = r.output.split('\n');
  let asserts = 0;
  for (const line of lines) {
    const m = /^(\s*)(not ok|ok) \d+ - (.*?)(?: # time=.*)?$/.exec(line);
    if (!m) continue;
    asserts++;
    t.ok(m[2] === 'ok', `inside UML${m[1] ? '' : ' (subtest)'}: ${m[3]}`);
  }
  for (const name of EXPECTED) t.ok(lines.some((l) => l.startsWith(`ok `) && l.includes(name)), `subtest ran and passed: ${name}`);
  t.ok(asserts > 40, `UML reported its assertions (${asserts})`);
  t.equal(r.exitCode, 0, `the suite inside UML exited 0${r.exitCode === 0 ? '' : `\n${r.output.slice(-4000)}\n${r.console.slice(-1500)}`}`);
});
