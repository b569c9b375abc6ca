/**
 * `sextant up --netns` helper process, run inside the hub namespace. The parent hands it
 * listening sockets bound in the host namespace (over the IPC channel); each accepted connection
 * is piped to `target:port` as seen from the hub namespace. So the master and Marathon, which live
 * on the bridge, are reachable from the host on 127.0.0.1 without adding any host link.
 */
import net from 'node:net';

const target = process.argv[2];
if (!target || !process.send) {
  process.stderr.write('up-proxy: run by `sextant up --netns` only (needs an IPC channel and a target host)\n');
  process.exit(2);
}

// A message may name its own target (`sextant up --masters N --netns`: one per master) and the key
// its ready answer carries; by default the target is argv[2] and the key the port.
process.on('message', (msg: { port?: number; target?: string; key?: string }, handle: unknown) => {
  const server = handle as net.Server | undefined;
  if (!server || typeof msg?.port !== 'number') return;
  const port = msg.port;
  const host = msg.target ?? target;
  server.on('connection', (client: net.Socket) => {
    const upstream = net.connect({ host, port });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  process.send!({ ready: msg.key ?? port });
});
process.on('disconnect', () => process.exit(0));
