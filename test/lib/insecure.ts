/**
 * The one switch the tests written before mutual TLS (#30) use: `sextant master` and `sextant
 * agent` processes they spawn directly run in plain HTTP (`--insecure-dev`). Tests of the secure
 * path (master/test/mtls.test.ts, test/e2e/mtls-netns.test.ts) leave it out.
 */
export const INSECURE_DEV: readonly string[] = ['--insecure-dev'];
