/**
 * The reconciler's per-change work (issue 26): a view whose `vips` part is the very array it last
 * applied without error (the agent's held view hands an unchanged part over as the same array)
 * costs nothing, neither the services' rebuild nor the driver's walk; a new array, or the same one
 * after a failed apply, goes to the driver. A recording driver: this checks the reconciler's logic;
 * the drivers' own tests (contract, traffic) cover the kernel.
 */
import t from 'tap';
import { FakeClock } from '../../common/clock.js';
import { createRegistry } from '../../common/metrics.js';
import type { Snapshot, Vip } from '../../contracts/index.js';
import type { ApplyResult, L4lbDriver, Service } from '../driver.js';
import { L4lbReconciler } from '../reconciler.js';

class RecordingDriver implements L4lbDriver {
  readonly name = 'nftables' as const;
  applied: Service[][] = [];
  failNext = false;
  async available() {
    return { ok: true as const };
  }
  async start() {}
  async apply(desired: Service[]): Promise<ApplyResult> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('kernel said no');
    }
    this.applied.push(desired);
    return { added: desired.length, removed: 0, changed: 0 };
  }
  async dump() {
    return [];
  }
  async reconcile(): Promise<ApplyResult> {
    return { added: 0, removed: 0, changed: 0 };
  }
  async stop() {}
}

const vip = (i: number, weight = 1): Vip => ({ key: `tcp/11.0.0.${i}:80`, ip: `11.0.0.${i}`, port: 80, protocol: 'tcp', backends: [{ ip: '10.0.0.2', port: 31000 + i, weight, task_id: `t${i}`, agent_id: 'S1' }] });

function view(version: number, vips: Vip[]): Snapshot {
  return {
    history: 'h',
    version,
    overlay: { vtep_subnet: '44.128.0.0/20', vtep_mac_oui: '70:B3:D5:00:00:00', vni: 1024, vtep_name: 'vtep1024', vxlan_port: 64000 },
    parts: { vips, zones: [], networks: [], overlay_agents: [], isolation_rules: [], network_policies: [], masters: [] },
  };
}

t.test('an unchanged vips array is not applied again; a new one, or one that failed, is', async (t) => {
  const driver = new RecordingDriver();
  const r = new L4lbReconciler({ driver, registry: createRegistry(), clock: new FakeClock(0) });
  await r.start();
  t.teardown(() => r.stop());
  const first = [vip(1), vip(2)];
  await r.apply(view(1, first));
  t.equal(driver.applied.length, 1, 'the first view goes to the driver');
  await r.apply(view(2, first));
  t.equal(driver.applied.length, 1, 'the same array (another part changed): no driver call');
  t.equal(r.appliedVersion, 2, 'and the version counts as applied');
  const second = [vip(1), vip(2, 0)];
  driver.failNext = true;
  await t.rejects(r.apply(view(3, second)), /kernel said no/, 'a failed apply rejects');
  await r.apply(view(4, second));
  t.equal(driver.applied.length, 2, 'the array that failed goes to the driver again');
  t.equal(driver.applied[1]![1]!.backends[0]!.weight, 0, 'with its change');
  await r.apply(view(5, [...second]));
  t.equal(driver.applied.length, 3, 'an equal copy (a full snapshot) is applied: only identity skips');
});
