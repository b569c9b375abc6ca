/** `sextant up` flags (moved from agent/test/parse.test.ts: a component's tests do not import cli/). */
import t from 'tap';
import { parseUpArgs } from '../up.js';

t.test('up flags', async (t) => {
  t.match(parseUpArgs([]), { agents: 2, example: true, netns: false, masterPort: 5050, marathonPort: 8080, agentPort: 5051, ipBase: '127.0.0' });
  t.match(parseUpArgs(['--agents', '3', '--no-example', '--ip-base', '127.5.6']), { agents: 3, example: false, ipBase: '127.5.6' });
  t.throws(() => parseUpArgs(['--agents', '0']), { name: 'ConfigError', field: '--agents' });
  t.throws(() => parseUpArgs(['--ip-base', '127.0.0.1']), { name: 'ConfigError', field: '--ip-base' });
});

t.test('--ipv6 needs --netns', async (t) => {
  t.match(parseUpArgs(['--netns', '--ipv6']), { netns: true, ipv6: true });
  t.notOk(parseUpArgs(['--netns']).ipv6, 'off unless asked');
  t.throws(() => parseUpArgs(['--ipv6']), { name: 'ConfigError', field: '--ipv6', message: /needs --netns/ });
});
