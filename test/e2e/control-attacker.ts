/**
 * The attacker of test/e2e/control-mtls-netns.test.ts: runs in its own network namespace (another
 * "host"), opens raw watches on a master's control port with the credentials it is given, and
 * prints what each got as one JSON line. Usage: node control-attacker.js '<json>' where json is
 * {target: "ip:port", cases: [{name, creds, agentId}]}.
 */
import { probeWatch, type ProbeCreds, type ProbeResult } from '../../control/test/probe.js';

interface Case {
  name: string;
  creds: ProbeCreds;
  agentId: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as { target: string; cases: Case[] };
const results: (ProbeResult & { name: string })[] = [];
for (const c of spec.cases) results.push({ name: c.name, ...(await probeWatch(spec.target, c.creds, c.agentId, { timeoutMs: 15_000 })) });
process.stdout.write(`${JSON.stringify(results)}\n`);
