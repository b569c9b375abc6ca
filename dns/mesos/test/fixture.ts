import { readFileSync } from 'node:fs';

/** Our own Mesos /master/state fixture (test/fixtures/mesos-state.json; see test/fixtures/README.md). */
export const fixturePath = new URL('../../../test/fixtures/mesos-state.json', import.meta.url);
export function fakeState(): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath, 'utf8')) as Record<string, unknown>;
}
