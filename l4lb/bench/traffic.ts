/** Bench parts that move real bytes: userspace programming cost and iperf3 throughput via a VIP vs direct. */
import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { which } from '../../test/lib/require.js';
import { NftablesDriver } from '../nft/driver.js';
import { UserspaceDriver } from '../userspace/driver.js';
import type { Service } from '../driver.js';
import { makeServices, timed, withNetns } from './index.js';
import { createLogger } from '../../common/log.js';

const quiet = createLogger('l4lb-bench');

export async function programUserspace(n: number): Promise<{ full: number; change: number }> {
  const a = randomInt(1, 250);
  const d = new UserspaceDriver({ listenAddress: (s) => ({ host: `127.${a}.${(Number(s.vip.split('.')[2]) % 250) + 1}.${(Number(s.vip.split('.')[3]) % 250) + 1}`, port: 0 }), log: quiet });
  await d.start();
  try {
    const svcs = makeServices(n);
    const full = (await timed(() => d.apply(svcs))).ms;
    svcs[7]!.backends[1]!.weight = 0;
    const change = (await timed(() => d.apply(svcs))).ms;
    return { full, change };
  } finally {
    await d.stop();
  }
}

function nsExec(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/** Gbit/s of a 3 s iperf3 run from `ns` (or the host when undefined) to host:port. */
function iperf(ns: string | undefined, host: string, port: number, bind?: string): number {
  const args = ['-c', host, '-p', String(port), '-t', '3', '-J', ...(bind ? ['-B', bind] : [])];
  const out = ns ? nsExec(ns, 'iperf3', ...args) : execFileSync('iperf3', args, { encoding: 'utf8', timeout: 30_000 });
  const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

function iperfServer(ns: string | undefined, host: string, port: number): () => void {
  const argv = [...(ns ? ['ip', 'netns', 'exec', ns] : []), 'iperf3', '-s', '-B', host, '-p', String(port)];
  const p = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
  return () => {
    try {
      process.kill(-p.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
  };
}

const settle = () => new Promise((r) => setTimeout(r, 500));

export async function throughput(): Promise<string[]> {
  const out = ['## Throughput through a VIP vs direct (iperf3, 3 s, one TCP stream)', ''];
  if (!which('iperf3')) return [...out, 'iperf3 is missing (apt-get install iperf3): not measured.'];
  out.push('| path | Gbit/s | vs direct |', '| --- | --- | --- |');
  const kernel = await withNetns((srv) =>
    withNetns(async (cli) => {
      nsExec(srv, 'ip', 'link', 'set', 'lo', 'up');
      nsExec(cli, 'ip', 'link', 'set', 'lo', 'up');
      nsExec(srv, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', cli);
      nsExec(srv, 'ip', 'addr', 'add', '10.78.0.1/24', 'dev', 'eth0');
      nsExec(cli, 'ip', 'addr', 'add', '10.78.0.3/24', 'dev', 'eth0');
      nsExec(srv, 'ip', 'link', 'set', 'eth0', 'up');
      nsExec(cli, 'ip', 'link', 'set', 'eth0', 'up');
      nsExec(cli, 'ip', 'route', 'add', 'default', 'dev', 'eth0');
      const stop = iperfServer(srv, '10.78.0.1', 5201);
      try {
        await settle();
        const direct = iperf(cli, '10.78.0.1', 5201);
        const d = new NftablesDriver({ netns: cli, log: quiet });
        await d.start();
        const s: Service = { key: 'tcp/11.0.0.1:5201', vip: '11.0.0.1', port: 5201, protocol: 'tcp', backends: [{ ip: '10.78.0.1', port: 5201, weight: 1 }] };
        await d.apply([s]);
        const vip = iperf(cli, '11.0.0.1', 5201);
        return { direct, vip };
      } finally {
        stop();
      }
    }),
  );
  out.push(`| direct (veth between namespaces) | ${kernel.direct.toFixed(2)} | 1.00 |`);
  out.push(`| nftables VIP (DNAT) | ${kernel.vip.toFixed(2)} | ${(kernel.vip / kernel.direct).toFixed(2)} |`);
  const a = randomInt(1, 250);
  const [srvIp, proxyIp, cliIp] = [`127.${a}.9.1`, `127.${a}.9.2`, `127.${a}.9.3`];
  const port = 20000 + randomInt(0, 20000);
  const stop = iperfServer(undefined, srvIp, port);
  const d = new UserspaceDriver({ listenAddress: () => ({ host: proxyIp, port }), log: quiet });
  try {
    await settle();
    const direct = iperf(undefined, srvIp, port, cliIp);
    await d.start();
    await d.apply([{ key: `tcp/11.0.0.1:${port}`, vip: '11.0.0.1', port, protocol: 'tcp', backends: [{ ip: srvIp, port, weight: 1 }] }]);
    const proxied = await new Promise<number>((resolve, reject) => {
      // iperf3 must run outside this event loop, which is the proxy's.
      const p = spawn('iperf3', ['-c', proxyIp, '-p', String(port), '-t', '3', '-J', '-B', cliIp]);
      let s = '';
      p.stdout.on('data', (x) => (s += x));
      p.on('close', () => {
        try {
          resolve((JSON.parse(s) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9);
        } catch (e) {
          reject(e);
        }
      });
    });
    out.push(`| direct (loopback) | ${direct.toFixed(2)} | 1.00 |`);
    out.push(`| userspace proxy (loopback) | ${proxied.toFixed(2)} | ${(proxied / direct).toFixed(2)} |`);
  } finally {
    await d.stop();
    stop();
  }
  out.push('', `Targets (issue 6): kernel drivers at least 95% of direct; userspace at least HAProxy's (~5.4 of 11.7 Gbit/s measured by the issue, ratio 0.46).`);
  return out;
}
