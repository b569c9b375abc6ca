/**
 * The `sextant-cni` unit: the plugin wrapper is installed (executable) in the agent's CNI bin dir,
 * and for every virtual network this agent has a slice of, its conflist is in the conf dir and
 * each plugin type it names is an executable in the bin dirs. The output names what is missing.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UNITS, type HealthCheck } from '../contracts/index.js';
import { PLUGIN_TYPE } from './wrapper.js';

export interface CniLayout {
  confDir: string;
  /** Searched in order for plugin binaries (ours first). */
  binDirs: string[];
  /** Networks this agent should have a conflist for now. */
  networks(): string[];
}

const executable = (p: string) => access(p, constants.X_OK).then(() => true, () => false);

async function findPlugin(binDirs: string[], type: string): Promise<boolean> {
  for (const d of binDirs) if (await executable(join(d, type))) return true;
  return false;
}

export function cniHealthCheck(l: CniLayout): HealthCheck {
  return {
    id: UNITS.cni,
    name: 'CNI plugin',
    help: "Containers on virtual networks (the sextant-cni plugin and its conflists in the agent's work dir, cni/). Unhealthy: see the agent log (cni_*); restarting the agent reinstalls the plugin.",
    async check() {
      const problems: string[] = [];
      const own = join(l.binDirs[0]!, PLUGIN_TYPE);
      if (!(await executable(own))) problems.push(`plugin ${own} is missing or not executable`);
      const nets = l.networks();
      for (const n of nets) {
        const path = join(l.confDir, `${n}.conflist`);
        let types: string[];
        try {
          const list = JSON.parse(await readFile(path, 'utf8')) as { plugins?: { type?: unknown }[] };
          types = (list.plugins ?? []).map((p) => String(p.type));
        } catch (e) {
          problems.push(`conflist ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`);
          continue;
        }
        for (const t of types) if (t !== PLUGIN_TYPE && !(await findPlugin(l.binDirs, t))) problems.push(`network ${n}: plugin ${t} not found in ${l.binDirs.join(', ')}`);
      }
      if (problems.length) return { healthy: false, output: problems.join('; ') };
      return { healthy: true, output: `${own} installed; ${nets.length} conflist(s) in ${l.confDir}${nets.length ? ` (${nets.join(', ')})` : ''}` };
    },
  };
}
