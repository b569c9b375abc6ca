/**
 * Benchmarks start their servers detached (each its own process group, so one kill ends a server
 * and its children). A bench that is itself stopped (Ctrl-C, `timeout`, SIGTERM) never reaches its
 * `finally`: these groups would outlive it. Every group started is noted here and killed on such a
 * signal before the bench exits.
 */
const groups = new Set<number>();
let installed = false;

function killAll(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  groups.clear();
}

/** Note a detached child's process group; `forget` it once the bench has stopped it. */
export function trackGroup(pid: number | undefined): void {
  if (!pid) return;
  groups.add(pid);
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      killAll();
      process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[sig]);
    });
}

export function forgetGroup(pid: number | undefined): void {
  if (pid) groups.delete(pid);
}
