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

process.on('message', (msg: { port?: number }, handle: unknown) => {
  const server = handle as net.Server | undefined;
  if (!server || typeof msg?.port !== 'number') return;
  const port = msg.port;
  server.on('connection', (client: net.Socket) => {
    const upstream = net.connect({ host: target, port });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  process.send!({ ready: port });
});
process.on('disconnect', () => process.exit(0));
