/**
 * The full check of an app definition at the door: the schema and semantic checks of parseApp,
 * then address ownership of every literal-IP VIP. The same check runs on stored apps at start.
 */
import { ValidationError } from '../common/index.js';
import type { AddressBook } from './addresses.js';
import type { Limits } from './limits.js';
import { literalVips, parseApp, type App } from './marathon/app.js';

export function appAdmission(limits: Limits, addresses: AddressBook): (definition: unknown) => App {
  return (definition) => {
    const app = parseApp(definition, limits);
    const refused = literalVips(app).flatMap((v) => {
      const why = addresses.vipRefusal(v.ip);
      return why ? [{ path: v.path, errors: [`${v.ip}:${v.port}: ${why} (VIP address ownership)`] }] : [];
    });
    if (refused.length) throw new ValidationError(refused);
    return app;
  };
}

/** A container network the app joins must be one the address book knows (the overlay's networks). */
export function networkAdmission(addresses: AddressBook): (app: App, body: unknown) => void {
  return (app, body) => {
    const known = addresses.networks();
    const viaIp = typeof body === 'object' && body !== null && (body as Record<string, unknown>).ipAddress != null;
    const refused = app.networks.flatMap((n, i) => {
      if (n.mode !== 'container' || known.includes(n.name!)) return [];
      const why = known.length ? `unknown network '${n.name}' (known: ${known.join(', ')})` : `unknown network '${n.name}': no virtual networks exist (the overlay is not running)`;
      return [{ path: viaIp ? '/ipAddress/networkName' : `/networks/${i}/name`, errors: [why] }];
    });
    if (refused.length) throw new ValidationError(refused);
  };
}
