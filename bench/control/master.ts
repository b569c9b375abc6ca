/**
 * The bench's master process: a ControlServer with a `vips` part of VIPS VIPs, driven by JSON
 * lines on stdin (`change`, `report`, `rss`, `stop`), answering JSON lines on stdout. It runs
 * apart from the simulated agents so its CPU time and RSS are its own.
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../../common/log.js';
import { ControlServer } from '../../control/server.js';
import type { PartSource, Vip } from '../../contracts/index.js';

const VIPS = Number(process.env.BENCH_VIPS ?? 200);

function vipAt(i: number, extra: number): Vip {
  const ip = `11.0.${i >> 8}.${i & 255}`;
  const backends = [1, 2, 3].map((b) => ({ ip: `10.0.${b}.${i & 255}`, port: 10000 + i, weight: 1, task_id: `app${i}.${b}`, agent_id: `S${b}` }));
  if (i === 0) backends.push({ ip: '10.9.9.9', port: 20000 + extra, weight: 1, task_id: `app0.x${extra}`, agent_id: 'S9' });
  return { key: `tcp/${ip}:80`, name: `/app${i}`, framework: 'marathon', dns_name: `app${i}.marathon.l4lb.thisdcos.directory`, ip, port: 80, protocol: 'tcp', backends };
}

let generation = 0;
const listeners = new Set<() => void>();
const source: PartSource<'vips'> = {
  part: 'vips',
  entries: () => Array.from({ length: VIPS }, (_, i) => vipAt(i, generation)),
  onChange: (fn) => (listeners.add(fn), () => listeners.delete(fn)),
};

const server = new ControlServer({ host: '127.0.0.1', port: 0, sources: [source], log: createLogger('control-bench'), maxReceiveBytes: 1 << 16 });
await server.start();
const reply = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
reply({ port: server.port, rss: process.memoryUsage().rss });

let cpuAtChange = process.cpuUsage();
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { op: string };
  if (cmd.op === 'change') {
    const from = server.engine.version;
    cpuAtChange = process.cpuUsage();
    const next = new Promise<number>((r) => {
      const off = server.engine.onVersion((v) => (off(), r(v)));
    });
    generation++;
    listeners.forEach((fn) => fn());
    const version = await next;
    const delta = server.engine.updateFor(server.engine.history, from, ['vips']).buf.length;
    const full = server.engine.updateFor('', 0, ['vips']).buf.length;
    reply({ version, delta_bytes: delta, full_bytes: full });
  } else if (cmd.op === 'report') {
    const cpu = process.cpuUsage(cpuAtChange);
    const s = server.status();
    reply({ acked: s.agents.filter((a) => a.lag === 0).length, cpu_ms: (cpu.user + cpu.system) / 1000, streams: server.connectedStreams().length });
  } else if (cmd.op === 'rss') {
    global.gc?.();
    reply({ rss: process.memoryUsage().rss, streams: server.connectedStreams().length });
  } else if (cmd.op === 'stop') {
    await server.stop();
    reply({ stopped: true });
    process.exit(0);
  }
}
