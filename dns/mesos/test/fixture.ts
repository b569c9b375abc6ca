import { readFileSync } from 'node:fs';

/** The upstream mesos-dns test state (shared/fixtures/mesos-dns/fake.json). */
export const fixturePath = new URL('../../../../shared/fixtures/mesos-dns/fake.json', import.meta.url);
export function fakeState(): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath, 'utf8')) as Record<string, unknown>;
}
