/**
 * Task namespaces for kernel tests: a netns with a veth on an agent's `m-<net>` bridge (what the
 * CNI plugin does in production), and small TCP server/client helpers run inside namespaces.
 */
import { createNetns, spawnTracked, type Netns } from '../../test/lib/index.js';

interface T {
  teardown(fn: () => unknown): void;
}

let n = 0;
/** A task netns on `agent`'s bridge `m-<net>` with address `ip` (/len of the bridge) and a default route via gw. */
export async function createTask(t: T, agent: Netns, network: string, ip: string, len: number, gw: string): Promise<Netns> {
  const task = await createNetns(t, 'tk');
  const host = `vt${process.pid % 1000}x${++n}`;
  await agent.ip('link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', task.name);
  await agent.ip('link', 'set', host, 'master', `m-${network}`, 'up');
  await task.ip('addr', 'add', `${ip}/${len}`, 'dev', 'eth0');
  await task.ip('link', 'set', 'eth0', 'mtu', '1420', 'up');
  await task.ip('route', 'add', 'default', 'via', gw);
  return task;
}

const serverJs = `const net=require('net');for(const p of process.argv.slice(1)){net.createServer(s=>s.end('hi')).listen(+p,'::',()=>console.log('listening',p))}`;
const clientJs = `const net=require('net');const s=net.connect({host:process.argv[1],port:+process.argv[2]});const t=setTimeout(()=>{console.log('timeout');process.exit(0)},3000);s.on('data',d=>{console.log('ok',String(d));clearTimeout(t);process.exit(0)});s.on('error',e=>{console.log('err',e.code);clearTimeout(t);process.exit(0)})`;

export async function tcpServer(t: T, ns: Netns, ports: number[]): Promise<void> {
  const p = spawnTracked(t, 'ip', ['netns', 'exec', ns.name, process.execPath, '-e', serverJs, ...ports.map(String)]);
  await p.waitFor(new RegExp(`listening ${ports[ports.length - 1]}`), 10000);
}

/** `ok hi`, `err EHOSTUNREACH`, `err ECONNREFUSED` or `timeout`. */
export async function tcpConnect(ns: Netns, ip: string, port: number): Promise<string> {
  return (await ns.exec(process.execPath, ['-e', clientJs, ip, String(port)])).trim();
}

/** One ICMP echo (raw socket, python3: this machine has no `ping`); true when answered within 2 s. */
const pingPy = `
import socket,struct,sys,time
dst=sys.argv[1]
s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP)
s.settimeout(2)
def cs(b):
    if len(b)%2: b+=b'\\0'
    t=sum(struct.unpack('!%dH'%(len(b)//2),b)); t=(t>>16)+(t&0xffff); t+=t>>16
    return (~t)&0xffff
ident=int(time.time()*1000)&0xffff
h=struct.pack('!BBHHH',8,0,0,ident,1)+b'sextant'
h=h[:2]+struct.pack('!H',cs(h))+h[4:]
s.sendto(h,(dst,0))
end=time.time()+2
while time.time()<end:
    try: d,a=s.recvfrom(2048)
    except socket.timeout: break
    ihl=(d[0]&15)*4
    if a[0]==dst and d[ihl]==0 and struct.unpack('!H',d[ihl+4:ihl+6])[0]==ident: print('reply'); sys.exit(0)
print('noreply'); sys.exit(1)
`;

export async function ping(ns: Netns, ip: string): Promise<boolean> {
  try {
    return (await ns.exec('python3', ['-c', pingPy, ip])).includes('reply');
  } catch {
    return false;
  }
}

/** ICMPv6 echo (raw socket; the kernel fills the checksum); true when one is answered within 3 s. */
const ping6Py = `
import socket,struct,sys,time
dst=sys.argv[1]
s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6)
s.settimeout(0.5)
ident=int(time.time()*1000)&0xffff
end=time.time()+3
seq=0
# One echo request every 0.5 s for up to 3 s: fresh veths finish link-local DAD and neighbour
# discovery in the first second, and an early request can be lost to that.
while time.time()<end:
    seq+=1
    s.sendto(struct.pack('!BBHHH',128,0,0,ident,seq)+b'sextant',(dst,0))
    until=time.time()+0.5
    while time.time()<until:
        try: d,a=s.recvfrom(2048)
        except socket.timeout: break
        if socket.inet_pton(socket.AF_INET6,a[0].split('%')[0])==socket.inet_pton(socket.AF_INET6,dst) and d[0]==129 and struct.unpack('!H',d[4:6])[0]==ident: print('reply'); sys.exit(0)
print('noreply'); sys.exit(1)
`;

export async function ping6(ns: Netns, ip: string): Promise<boolean> {
  try {
    return (await ns.exec('python3', ['-c', ping6Py, ip])).includes('reply');
  } catch {
    return false;
  }
}

/** Give a task made by createTask an IPv6 address on its bridge's v6 half and a v6 default route. */
export async function addTask6(task: Netns, ip6: string, len: number, gw6: string): Promise<void> {
  await task.ip('-6', 'addr', 'add', `${ip6}/${len}`, 'dev', 'eth0', 'nodad');
  await task.ip('-6', 'route', 'add', 'default', 'via', gw6, 'dev', 'eth0');
}
