/**
 * A TCP port whose listener never accepts and whose accept queue is full (backlog 0, filled by its
 * own clients): SYNs to it are dropped, so a connect to it times out. A python3 process, stopped
 * when the test ends. Used by the userspace proxy's tests (connect timeouts) and its VIP metrics.
 */
import { spawn } from 'node:child_process';
import type { Test } from 'tap';

export async function hangingPort(t: Test, ip: string): Promise<number> {
  const py = spawn('python3', ['-c', `
import socket, sys, time
s = socket.socket(socket.AF_INET6 if ":" in "${ip}" else socket.AF_INET); s.bind(("${ip}", 0)); s.listen(0)
fill = []
for i in range(3):
    c = socket.socket(s.family); c.setblocking(False)
    try: c.connect(s.getsockname()[:2])
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => py.kill());
  return new Promise<number>((res, rej) => {
    py.once('error', rej);
    py.once('exit', (code) => rej(new Error(`hangingPort: python3 exited ${code} before it listened on ${ip}`)));
    py.stdout.once('data', (d) => res(Number(String(d).trim())));
  });
}
