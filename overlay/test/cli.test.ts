import t from 'tap';
import { main } from '../cli.js';
import { serveOverlayMaster } from './harness.js';

/** `sextant network ARGV` in this process, its exit code and what it wrote. */
async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.test('sextant network create|ls|rm|isolate|allow|rules', async (t) => {
  const { url } = await serveOverlayMaster(t);
  const run = (...argv: string[]) => runCli([...argv, '--master', url]);
  const rows: [string[], number, RegExp][] = [
    [['create', 'hr', '--subnet', '10.10.0.0/16'], 0, /created hr 10\.10\.0\.0\/16 \/24/],
    [['create', 'it', '--subnet', '10.20.0.0/16', '--prefix', '26'], 0, /created it/],
    [['create', 'bad', '--subnet', '10.10.5.0/24', '--prefix', '26'], 1, /subnet: .*overlaps network "hr"/],
    [['create', 'toolongnetname', '--subnet', '10.30.0.0/16'], 1, /name: must be at most 13/],
    [['ls'], 0, /hr\s+10\.10\.0\.0\/16\s+\/24/],
    [['isolate', 'hr', 'deny'], 0, /hr: default deny/],
    [['allow', 'hr', 'it', '--ports', '80,8000-8100', '--protocol', 'tcp'], 0, /added rule hr>it:tcp:80,8000-8100/],
    [['allow', 'hr', 'nope'], 1, /to: unknown network "nope"/],
    [['rules'], 0, /allow hr>it:tcp:80,8000-8100\s+0/],
    [['allow', 'hr', 'it', '--ports', '80,8000-8100', '--protocol', 'tcp', '--delete'], 0, /removed rule/],
    [['rm', 'it'], 0, /removed it/],
    [['rm', 'it'], 1, /404/],
    [['frobnicate'], 2, /unknown network command/],
  ];
  for (const [argv, code, re] of rows) {
    const r = await run(...argv);
    t.equal(r.code, code, argv.join(' '));
    t.match(r.out + r.err, re, argv.join(' '));
  }
});

t.test('the master written as IP:PORT, as a URL, or in SEXTANT_MASTER: the same master; a bad one names the option', async (t) => {
  const { url } = await serveOverlayMaster(t);
  const run = async (argv: string[], env?: string) => {
    const saved = process.env.SEXTANT_MASTER;
    if (env === undefined) delete process.env.SEXTANT_MASTER;
    else process.env.SEXTANT_MASTER = env;
    try {
      return await runCli(argv);
    } finally {
      if (saved === undefined) delete process.env.SEXTANT_MASTER;
      else process.env.SEXTANT_MASTER = saved;
    }
  };
  const hostPort = url.replace(/^http:\/\//, '');
  t.equal((await run(['create', 'hr', '--subnet', '10.10.0.0/16', '--master', hostPort])).code, 0, `--master ${hostPort}`);
  for (const [argv, env] of [[['ls', '--master', `${url}/`]], [['ls'], hostPort], [['ls'], url]] as [string[], string?][]) {
    const r = await run(argv, env);
    t.equal(r.code, 0, `${argv.join(' ')} SEXTANT_MASTER=${env ?? ''}`);
    t.match(r.out, /hr\s+10\.10\.0\.0\/16/);
  }
  const bad = await run(['ls', '--master', `${hostPort}/v1/networks`]);
  t.equal(bad.code, 2, 'a path is not an address');
  t.match(bad.err, /--master ".*\/v1\/networks" is not an address/);
  const badEnv = await run(['ls'], 'http://');
  t.equal(badEnv.code, 2);
  t.match(badEnv.err, /SEXTANT_MASTER "http:\/\/" is not an address/);
});

t.test('--json prints { result, wait } for the writes; --no-wait skips the wait; bad --timeout is a usage error; --help exits 0', async (t) => {
  const { url } = await serveOverlayMaster(t);
  const run = (...argv: string[]) => runCli([...argv, '--master', url]);
  const c = await run('create', 'hr', '--subnet', '10.10.0.0/16', '--json');
  t.equal(c.code, 0);
  t.match(JSON.parse(c.out), { result: { name: 'hr', subnet: '10.10.0.0/16' }, wait: { waited: 'no-control' } }, 'no control plane on this master: nothing waited for');
  const n = await run('create', 'it', '--subnet', '10.20.0.0/16', '--json', '--no-wait');
  t.match(JSON.parse(n.out), { result: { name: 'it' }, wait: { waited: 'skipped' } });
  const i = await run('isolate', 'hr', 'deny', '--json');
  t.equal(i.code, 0);
  t.type(JSON.parse(i.out).result, 'object');
  const r = await run('rm', 'it', '--json');
  t.equal(r.code, 0);
  t.match(JSON.parse(r.out), { wait: { waited: 'no-control' } });
  const bad = await run('create', 'x', '--subnet', '10.30.0.0/16', '--timeout', 'soon');
  t.equal(bad.code, 2);
  t.match(bad.err, /--timeout "soon" is not a number/);
  t.equal((await run('--help')).code, 0);
});
