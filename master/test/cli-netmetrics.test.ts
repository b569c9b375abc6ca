/** `sextant master --vip-*`: the network metrics aggregator's flags, each also from its variable; a flag beats the variable, bad values name the flag. */
import t from 'tap';
import { parseMasterArgs } from '../cli.js';

const base = ['--ip', '127.0.0.1', '--work-dir', '/tmp/x', '--insecure-dev'];

t.test('--vip-failure-threshold, --vip-failure-min-connections, --vip-drain-failing, --vip-metrics-interval-ms', async (t) => {
  const rows: [string, string[], NodeJS.ProcessEnv, unknown][] = [
    ['none: no netmetrics flags', [], {}, undefined],
    ['all as flags', ['--vip-failure-threshold', '0.3', '--vip-failure-min-connections', '20', '--vip-drain-failing', '--vip-metrics-interval-ms', '1000'], {}, { threshold: 0.3, minConnections: 20, drain: true, intervalMs: 1000 }],
    ['all from the environment', [], { SEXTANT_VIP_FAILURE_THRESHOLD: '0.8', SEXTANT_VIP_FAILURE_MIN_CONNECTIONS: '5', SEXTANT_VIP_DRAIN_FAILING: '1', SEXTANT_VIP_METRICS_INTERVAL_MS: '2000' }, { threshold: 0.8, minConnections: 5, drain: true, intervalMs: 2000 }],
    ['a flag beats its variable', ['--vip-failure-threshold', '0.4'], { SEXTANT_VIP_FAILURE_THRESHOLD: '0.9' }, { threshold: 0.4 }],
    ['SEXTANT_VIP_DRAIN_FAILING=false', [], { SEXTANT_VIP_DRAIN_FAILING: 'false' }, { drain: false }],
  ];
  for (const [name, argv, env, want] of rows) t.same(parseMasterArgs([...base, ...argv], env).flags.netmetrics, want, name);
  const bad: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['--vip-failure-threshold', '0'], {}, /--vip-failure-threshold: '0' is not a failure rate in \(0, 1\]/],
    [['--vip-failure-threshold', 'half'], {}, /--vip-failure-threshold: 'half' is not a failure rate/],
    [[], { SEXTANT_VIP_FAILURE_THRESHOLD: '2' }, /SEXTANT_VIP_FAILURE_THRESHOLD: '2' is not a failure rate/],
    [['--vip-failure-min-connections=-1'], {}, /--vip-failure-min-connections: '-1' is not a non-negative integer/],
    [['--vip-metrics-interval-ms', '10'], {}, /--vip-metrics-interval-ms: 10 is below 100 ms/],
    [[], { SEXTANT_VIP_DRAIN_FAILING: 'yes' }, /SEXTANT_VIP_DRAIN_FAILING: 'yes' is not 1, true, 0 or false/],
  ];
  for (const [argv, env, re] of bad) t.throws(() => parseMasterArgs([...base, ...argv], env), re, `${argv.join(' ')} ${JSON.stringify(env)}`);
});
