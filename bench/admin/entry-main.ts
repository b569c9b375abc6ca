/**
 * The entry point as its own process for the benchmark (as it runs inside `sextant master`, but
 * without the master's work beside it): `node entry-main.js HOST PORT CERT KEY UPSTREAM_IP MESOS_PORT
 * MARATHON_PORT`, with the token's public key (SPKI PEM) in $BENCH_JWT_PUBLIC_KEY. Its Authority
 * verifies RS256 tokens with jose and grants `bench` everything; the entry point caches the
 * verification by hash as it does in production. $BENCH_ENTRY_WORKERS > 1 runs it as that many
 * worker processes (EntryWorkers, as SEXTANT_ENTRY_WORKERS does in a master). $BENCH_ENTRY_FRONT `lua` or
 * `auth_request` runs it behind the nginx front (NginxFront, as `--admin-front nginx` does, with that
 * check) with $BENCH_ENTRY_WORKERS nginx workers. Prints `entry ready` once listening.
 */
import fs from 'node:fs';
import { importSPKI, jwtVerify } from 'jose';
import { createLogger, createRegistry, systemClock } from '../../common/index.js';
import type { Authority } from '../../contracts/auth.js';
import os from 'node:os';
import path from 'node:path';
import { EntryServer, EntryWorkers, MasterUpstreams, NginxFront } from '../../admin/index.js';

const [host, port, cert, key, upIp, mesosPort, marathonPort] = process.argv.slice(2);
const pub = await importSPKI(process.env.BENCH_JWT_PUBLIC_KEY!, 'RS256');
const authority: Authority = {
  async authenticate(h) {
    const tok = typeof h.authorization === 'string' ? h.authorization.replace(/^token=/, '') : '';
    if (!tok) return { ok: false, reason: 'missing', message: 'no token' };
    try {
      const { payload } = await jwtVerify(tok, pub);
      return payload.sub === 'bench' ? { ok: true, identity: { uid: 'bench', kind: 'user', superuser: false } } : { ok: false, reason: 'unknown-identity', message: String(payload.sub) };
    } catch (e) {
      return { ok: false, reason: 'bad-signature', message: (e as Error).message };
    }
  },
  async authorize() {
    return true;
  },
};
const upstream = { ip: upIp!, port: Number(mesosPort), marathonPort: Number(marathonPort), mesosDnsPort: 8123 };
const workers = Number(process.env.BENCH_ENTRY_WORKERS ?? 1);
const common = { host: host!, port: Number(port), cert: fs.readFileSync(cert!), key: fs.readFileSync(key!), authority: () => authority, registry: createRegistry(), log: createLogger('entry-bench') };
const front = process.env.BENCH_ENTRY_FRONT;
const upstreams = () => new MasterUpstreams({ ...upstream, clock: systemClock });
const local = { marathon: { host: upIp!, port: Number(marathonPort) }, mesos: { host: upIp!, port: Number(mesosPort) }, mesosDns: { host: upIp!, port: 8123 } };
const frontDir = front ? fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-bench-front-')) : undefined;
const entry = frontDir && (front === 'lua' || front === 'auth_request')
  ? new NginxFront({ ...common, upstreams: upstreams(), dir: frontDir, local, workers, check: front })
  : workers > 1 ? new EntryWorkers({ ...common, workers, upstream }) : new EntryServer({ ...common, upstreams: upstreams() });
await entry.start();
process.stdout.write('entry ready\n');
process.on('SIGTERM', () => void entry.stop().then(() => (frontDir && fs.rmSync(frontDir, { recursive: true, force: true }), process.exit(0))));
