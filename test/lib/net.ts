import net from 'node:net';
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';

/** A free TCP (and UDP) port on the given loopback address (IPv4 or IPv6). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, host, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      u.once('error', () => resolve(false));
      u.bind(port, host, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free port found');
}

/**
 * A random /24 in 127.0.0.0/8 for one test, so parallel tests can each use .1, .2, .3 with fixed
 * ports (e.g. several agents on :5051) without colliding.
 */
export function loopbackBlock(): (host: number) => string {
  const a = randomInt(1, 250);
  const b = randomInt(1, 250);
  return (h: number) => `127.${a}.${b}.${h}`;
}
