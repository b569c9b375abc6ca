/** Identity extraction from a verified certificate's SANs (control/identity.ts), one row per behaviour. */
import t from 'tap';
import { agentUri, identityFromSan, masterUri, parseSubjectAltName, refuseAgentId } from '../identity.js';

t.test("parseSubjectAltName: Node's subjectaltname text", async (t) => {
  const rows: [string, string | undefined, [string, string][]][] = [
    ['empty', undefined, []],
    ['one URI', 'URI:spiffe://sextant/agent/S1', [['URI', 'spiffe://sextant/agent/S1']]],
    ['mixed', 'DNS:localhost, IP Address:10.0.0.1, URI:spiffe://sextant/master/10.0.0.1', [['DNS', 'localhost'], ['IP Address', '10.0.0.1'], ['URI', 'spiffe://sextant/master/10.0.0.1']]],
    // A DNS name holding ", URI:..." is quoted by Node: it stays one DNS value, not a second URI.
    ['quoted value cannot smuggle a URI', 'DNS:"evil, URI:spiffe://sextant/agent/S2", URI:spiffe://sextant/agent/S1', [['DNS', 'evil, URI:spiffe://sextant/agent/S2'], ['URI', 'spiffe://sextant/agent/S1']]],
    ['quoted with escapes', 'URI:"spiffe://sextant/agent/a\\"b"', [['URI', 'spiffe://sextant/agent/a"b']]],
  ];
  for (const [name, text, want] of rows) t.same(parseSubjectAltName(text), want, name);
});

t.test('identityFromSan', async (t) => {
  const rows: [string, string | undefined, object][] = [
    ['agent', 'URI:spiffe://sextant/agent/S1', { kind: 'agent', agentId: 'S1' }],
    ['agent among other SANs', 'DNS:node1, IP Address:10.0.0.2, URI:spiffe://sextant/agent/0b1c-S3', { kind: 'agent', agentId: '0b1c-S3' }],
    ['agent id with a colon', `URI:${agentUri('a:b')}`, { kind: 'agent', agentId: 'a:b' }],
    ['percent-encoded agent id', 'URI:spiffe://sextant/agent/a%3Ab%40c', { kind: 'agent', agentId: 'a:b@c' }],
    ['the entry point', 'URI:spiffe://sextant/entry', { kind: 'component', role: 'entry' }],
    ['the CLI', 'URI:spiffe://sextant/cli', { kind: 'component', role: 'cli' }],
    ['master', `URI:${masterUri('10.0.0.1')}`, { kind: 'master', ip: '10.0.0.1' }],
    ['master IPv6', `URI:${masterUri('fd00::1')}`, { kind: 'master', ip: 'fd00::1' }],
    ['scheme case-insensitive', 'URI:SPIFFE://sextant/agent/S1', { kind: 'agent', agentId: 'S1' }],
    ['no SAN', undefined, { kind: 'none', why: /no spiffe:\/\/sextant\/ URI SAN/ }],
    ['other trust domain', 'URI:spiffe://example.org/agent/S1', { kind: 'none', why: /name no spiffe:\/\/sextant\/ identity/ }],
    ['look-alike domain', 'URI:spiffe://sextant.evil/agent/S1', { kind: 'none', why: /name no spiffe:\/\/sextant\/ identity/ }],
    ['two identities', 'URI:spiffe://sextant/agent/S1, URI:spiffe://sextant/agent/S2', { kind: 'none', why: /names 2 identities/ }],
    ['agent and master', 'URI:spiffe://sextant/agent/S1, URI:spiffe://sextant/master/10.0.0.1', { kind: 'none', why: /names 2 identities/ }],
    ['empty agent id', 'URI:spiffe://sextant/agent/', { kind: 'none', why: /malformed/ }],
    ['extra path segment', 'URI:spiffe://sextant/agent/S1/x', { kind: 'none', why: /malformed/ }],
    ['invalid agent id', 'URI:spiffe://sextant/agent/-x', { kind: 'none', why: /invalid agent id/ }],
    ['bad percent-encoding', 'URI:spiffe://sextant/agent/%zz', { kind: 'none', why: /percent-encoding/ }],
    ['master without an IP', 'URI:spiffe://sextant/master/m1', { kind: 'none', why: /names no master IP/ }],
    ['unknown role', 'URI:spiffe://sextant/admin/root', { kind: 'none', why: /unknown role 'admin'/ }],
  ];
  for (const [name, san, want] of rows) t.match(identityFromSan(san), want, name);
});

t.test('refuseAgentId: who may watch as whom', async (t) => {
  const agent = identityFromSan('URI:spiffe://sextant/agent/S1');
  const rows: [string, ReturnType<typeof identityFromSan> | { kind: 'anonymous' }, string, object | undefined][] = [
    ['an agent as itself', agent, 'S1', undefined],
    ['an agent as another', agent, 'S2', { code: 'PERMISSION_DENIED', reason: 'identity_mismatch', details: /'S2' is not the certificate's agent 'S1'/ }],
    ['a master', identityFromSan(`URI:${masterUri('10.0.0.1')}`), 'S1', { code: 'PERMISSION_DENIED', reason: 'not_agent' }],
    ['the entry point', identityFromSan('URI:spiffe://sextant/entry'), 'S1', { code: 'PERMISSION_DENIED', reason: 'not_agent', details: /entry's certificate/ }],
    ['no identity', identityFromSan(undefined), 'S1', { code: 'UNAUTHENTICATED', reason: 'no_identity' }],
    ['no certificate', { kind: 'anonymous' }, 'S1', { code: 'UNAUTHENTICATED', reason: 'no_certificate' }],
  ];
  for (const [name, id, as, want] of rows) {
    const r = refuseAgentId(id, as);
    if (want === undefined) t.equal(r, undefined, name);
    else t.match(r, want, name);
  }
});
