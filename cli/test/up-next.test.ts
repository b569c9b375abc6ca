/** `sextant up`'s "Next" lines (cli/up-next.ts): which commands it suggests in each setup. */
import t from 'tap';
import { nextSteps, type NextInput } from '../up-next.js';

const base: NextInput = { entry: '/opt/sextant/dist/cli/sextant.js', masterUrl: 'http://127.0.0.1:5050', marathonUrl: 'http://127.0.0.1:8080', exampleId: '/hello', exampleTask: 'hello.1234', netns: false, env: { PATH: '' }, cwd: '/' };
const tls = { ca: '/w/pki/ca.crt', cert: '/w/pki/cli.crt', key: '/w/pki/cli.key' };
const taskLog = /^ {2}node \S*dist\/cli\/sextant\.js task log hello\.1234 --follow {3}/m;

t.test('task log is suggested where the CLI reaches the agents', async (t) => {
  t.match(nextSteps(base).join('\n'), taskLog, 'plain HTTP on this host');
  const secure = nextSteps({ ...base, masterUrl: 'https://127.0.0.1:5050', marathonUrl: 'https://127.0.0.1:8080', tls }).join('\n');
  t.match(secure, taskLog, 'under mutual TLS: the exported cli certificate reaches the agent');
  t.match(secure, /^ {2}export SEXTANT_MASTER=https:\/\/127\.0\.0\.1:5050 SEXTANT_MARATHON=https:\/\/127\.0\.0\.1:8080 SEXTANT_CA=\/w\/pki\/ca\.crt SEXTANT_CERT=\/w\/pki\/cli\.crt SEXTANT_KEY=\/w\/pki\/cli\.key /m, 'with the certificate it needs exported');
  t.notMatch(nextSteps({ ...base, netns: true }).join('\n'), /task log/, 'agents in namespaces: not from this shell');
  t.notMatch(nextSteps({ ...base, netns: true, tls }).join('\n'), /task log/, 'nor under mutual TLS');
  t.notMatch(nextSteps({ ...base, exampleTask: undefined }).join('\n'), /task log/, 'no example task: nothing to show it with');
});
