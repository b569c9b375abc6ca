/**
 * Without the native batching module (not built, or SEXTANT_UDP_BATCH=0) Mesos-DNS answers UDP on
 * a dgram socket, with the same shared-buffer fast path; elsewhere the suite runs on the native socket.
 */
import t from 'tap';
import dgram from 'node:dgram';
import dns2 from 'dns2';
import { nativeUdp } from '../../../common/udp-batch.js';
import { RRType } from '../../wire/index.js';
import { startMesosDns } from './harness.js';

process.env.SEXTANT_UDP_BATCH = '0'; // read at the first nativeUdp() call
const { Packet } = dns2 as unknown as { Packet: any };

function query(name: string, id: number): Buffer {
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of name.split('.')) parts.push(Buffer.from([l.length]), Buffer.from(l));
  parts.push(Buffer.from([0, 0, RRType.A, 0, 1]));
  return Buffer.concat(parts);
}

function ask(ip: string, port: number, name: string, id: number): Promise<any> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (s.close(), reject(new Error(`no answer for ${name}`))), 3000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(Packet.parse(m));
    });
    s.send(query(name, id), port, ip);
  });
}

t.test('dgram socket: in-domain answers (twice: the second from the shared buffer) and NXDOMAIN', async (t) => {
  t.equal(nativeUdp(), undefined, 'the native module is off');
  const { ip, port } = await startMesosDns(t);
  for (const id of [11, 12]) {
    const r = await ask(ip, port, 'chronos.marathon.mesos', id);
    t.equal(r.header.id, id);
    t.ok(r.answers.length > 0, `answer ${id} has records`);
  }
  const nx = await ask(ip, port, 'nothing-here.marathon.mesos', 13);
  t.equal(nx.header.rcode, 3);
});
