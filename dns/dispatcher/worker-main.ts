/**
 * A dispatcher worker process (see workers.ts): a Dispatcher without listeners of its own, serving
 * UDP on the sockets its parent hands over, with the zones and resolvers its parent pushes. Every
 * message is acknowledged (an error names what failed); it exits when its parent goes away.
 */
import type dgram from 'node:dgram';
import type { SharedUdp } from './server.js';
import { createLogger } from '../../common/log.js';
import { createRegistry } from '../../common/metrics.js';
import { Dispatcher } from './dispatcher.js';
import { fromWire, type FromWorker, type ToWorker, type ZoneInput } from './workers.js';
import { applyZoneDelta } from './zone-delta.js';

let dispatcher: Dispatcher | undefined;
/** The parent's zone list this process serves, and its version (a delta names the one it applies to). */
let zones: ZoneInput[] = [];
let zonesVersion = -1;
const sockets: SharedUdp[] = [];
let exiting = false;

const reply = (m: FromWorker) => process.send?.(m);

function need(): Dispatcher {
  if (!dispatcher) throw new Error('no init message yet');
  return dispatcher;
}

async function onMessage(m: ToWorker, handle: dgram.Socket | undefined): Promise<void> {
  try {
    switch (m.t) {
      case 'init': {
        const log = createLogger('dispatcher', { worker: m.slot });
        dispatcher = new Dispatcher(fromWire(m.config), { registry: createRegistry(), log });
        dispatcher.setZoneRecords(m.zones);
        [zones, zonesVersion] = [m.zones, m.zonesVersion ?? -1];
        dispatcher.setMesosFromParent(m.mesos, m.mesosLeader);
        break;
      }
      case 'udp':
        if (m.native) sockets.push(m.native);
        else if (handle) sockets.push(handle);
        else throw new Error("'udp' message came without a socket");
        break;
      case 'serve':
        need().serve(sockets);
        break;
      case 'zones':
        need().setZoneRecords(m.zones);
        [zones, zonesVersion] = [m.zones, m.version ?? -1];
        break;
      case 'zones-delta': {
        if (m.from !== zonesVersion) throw new Error(`zones delta from version ${m.from}, this process has ${zonesVersion}`);
        const next = applyZoneDelta(zones, m);
        need().setZoneRecords(next);
        [zones, zonesVersion] = [next, m.to];
        break;
      }
      case 'mesos':
        need().setMesosFromParent(m.mesos, m.leader);
        break;
      case 'metrics':
        return void reply({ t: 'ack', seq: m.seq, metrics: await need().registry.getMetricsAsJSON() });
      default:
        throw new Error(`unknown message type '${String((m as { t?: unknown }).t)}'`);
    }
    reply({ t: 'ack', seq: m.seq });
  } catch (err) {
    reply({ t: 'ack', seq: typeof m?.seq === 'number' ? m.seq : -1, error: (err as Error).message });
  }
}

async function exit(): Promise<void> {
  if (exiting) return;
  exiting = true;
  await dispatcher?.stop().catch(() => undefined);
  process.exit(0);
}

process.on('message', (m: ToWorker, handle?: dgram.Socket) => void onMessage(m, handle));
process.on('disconnect', () => void exit());
process.on('SIGTERM', () => void exit());
process.on('SIGINT', () => undefined); // a terminal's Ctrl-C reaches the whole group: the parent decides
