/**
 * One plugin invocation: environment + stdin in, stdout + exit code out. Never throws.
 */
import { asCniError } from './errors.js';
import { parseEnv } from './spec.js';
import { cmdAdd, cmdCheck, cmdDel, cmdGc, cmdStatus, cmdVersion, errorVersion, type CmdArgs } from './commands.js';
import type { Host } from './net/run.js';

export async function runPlugin(env: NodeJS.ProcessEnv, stdin: string, host?: Host): Promise<{ stdout: string; code: number }> {
  try {
    const e = parseEnv(env);
    const args: CmdArgs = { containerId: e.containerId, netns: e.netns, ifname: e.ifname, args: e.args, path: e.path, stdin, host };
    switch (e.command) {
      case 'VERSION':
        return { stdout: JSON.stringify(cmdVersion(stdin)), code: 0 };
      case 'ADD':
        return { stdout: JSON.stringify(await cmdAdd(args)), code: 0 };
      case 'DEL':
        await cmdDel(args);
        return { stdout: '', code: 0 };
      case 'CHECK':
        await cmdCheck(args);
        return { stdout: '', code: 0 };
      case 'STATUS':
        await cmdStatus(args);
        return { stdout: '', code: 0 };
      case 'GC':
        await cmdGc(args);
        return { stdout: '', code: 0 };
    }
  } catch (err) {
    return { stdout: JSON.stringify(asCniError(err).toJSON(errorVersion(stdin))), code: 1 };
  }
}
