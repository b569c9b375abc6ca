/** Driver selection: SEXTANT_OVERLAY_KERNEL, the `kernel` option and `netns`. */
import t from 'tap';
import { kernelKind } from '../driver.js';

t.test('driver selection', async (t) => {
  const cases: [string | undefined, string | undefined, string | RegExp][] = [
    [undefined, undefined, 'netlink'],
    ['ns1', undefined, 'iproute2'],
    [undefined, 'iproute2', 'iproute2'],
    [undefined, ' netlink ', 'netlink'],
    ['ns1', 'iproute2', 'iproute2'],
    ['ns1', 'netlink', /own namespace only/],
    [undefined, 'rtnl', /SEXTANT_OVERLAY_KERNEL: must be "iproute2" or "netlink"/],
  ];
  for (const [netns, env, want] of cases) {
    if (typeof want === 'string') t.equal(kernelKind(netns, env), want, `${netns} ${env}`);
    else t.throws(() => kernelKind(netns, env), { name: 'ConfigError', message: want }, `${netns} ${env}`);
  }
});
