/**
 * The gate when the identity service cannot be asked (a follower's entry point whose leader is gone:
 * LeaderAuthority throws): 503 `no-authority` naming why, never 500, nothing cached and no failure
 * counted against the caller; once the authority answers again the same credential passes.
 */
import t from 'tap';
import { FakeClock } from '../../common/index.js';
import type { AuthResult, Authority } from '../../contracts/auth.js';
import { AuthGate } from '../index.js';

t.test('an authority that throws: 503 no-authority, not counted, not cached', async (t) => {
  let down = true;
  let asked = 0;
  const authority: Authority = {
    async authenticate(): Promise<AuthResult> {
      asked++;
      if (down) throw new Error('https://10.0.0.1:5050/acs/api/v1/auth/whoami: no answer within 5000 ms');
      return { ok: true, identity: { uid: 'alice', kind: 'user', superuser: false } };
    },
    async authorize() {
      return true;
    },
  };
  const gate = new AuthGate(() => authority, { clock: new FakeClock(), cacheMs: 10_000, cacheSize: 100, throttleFailures: 2, throttleWindowMs: 60_000 });
  const headers = { authorization: 'token=a.b.c' };
  for (let i = 0; i < 3; i++) {
    const r = await gate.authenticate(headers, '192.0.2.7');
    t.match(r, { ok: false, status: 503, reason: 'no-authority', message: /could not be asked: .*no answer within 5000 ms/ }, `attempt ${i + 1}: 503 naming why`);
  }
  t.equal(gate.throttledFor('192.0.2.7'), 0, 'an unreachable identity service is not counted against the caller');
  down = false;
  t.match(await gate.authenticate(headers, '192.0.2.7'), { ok: true, identity: { uid: 'alice' } }, 'once it answers, the same credential passes');
  t.equal(asked, 4, 'no refusal was cached: each attempt asked');
});
