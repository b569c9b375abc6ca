import t from 'tap';
import { renderResolvConf } from '../resolv-conf.js';

t.test('at most three nameservers, as glibc reads', async (t) => {
  const text = renderResolvConf({ nameservers: ['198.51.100.1', '198.51.100.2', '198.51.100.3', '9.9.9.9', '8.8.8.8'] });
  t.equal(text, 'nameserver 198.51.100.1\nnameserver 198.51.100.2\nnameserver 198.51.100.3\noptions timeout:1 attempts:3\n');
});

t.test('comment, search and options', async (t) => {
  const rows: [string, Parameters<typeof renderResolvConf>[0], string][] = [
    ['defaults', { nameservers: ['1.1.1.1'] }, 'nameserver 1.1.1.1\noptions timeout:1 attempts:3\n'],
    ['comment first', { nameservers: ['1.1.1.1'], comment: 'Generated' }, '# Generated\nnameserver 1.1.1.1\noptions timeout:1 attempts:3\n'],
    ['search', { nameservers: ['fd00::53'], search: ['marathon.mesos', 'mesos'] }, 'search marathon.mesos mesos\nnameserver fd00::53\noptions timeout:1 attempts:3\n'],
    ['no options', { nameservers: ['1.1.1.1'], options: [] }, 'nameserver 1.1.1.1\n'],
    ['no nameservers', { nameservers: [] }, 'options timeout:1 attempts:3\n'],
  ];
  for (const [name, conf, want] of rows) t.equal(renderResolvConf(conf), want, name);
});
